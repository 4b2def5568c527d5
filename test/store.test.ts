/**
 * The store under Pulumi mocks (issue #13), per stack: the in-cluster Valkey on kind, ElastiCache
 * for Valkey on EKS (encryption, Multi-AZ in prod), an external one; the credentials Secret is a
 * Pulumi secret and reaches messages only as secretKeyRef; the NetworkPolicies let messages, and
 * only messages, reach the store.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { selectorLabels } from "../components/microservice";
import { CACHE_PORT, MAINTENANCE_WINDOW, REPLACING_INPUTS, SNAPSHOT_WINDOW } from "../components/cluster/eks/cache";
import { ELASTICACHE_DEFAULTS, STORE_PORT } from "../components/store/config";
import { CREDENTIALS_SECRET, PASSWORD_LENGTH } from "../components/store/store";
import { maxmemory, storeSelector, VALKEY_GID, VALKEY_IMAGE, VALKEY_UID, valkeyConfig } from "../components/store/valkey";
import { isSecretValue, type RecordedResource } from "../scripts/mocks";
import { kubernetesObjects, REDACTED } from "../scripts/synth";
import { at, type K8sObject, type Program, runStack } from "./harness";
import { validateK8s } from "./validate";

type Labels = Record<string, string>;
interface Selector {
    matchLabels?: Labels;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface Peer {
    podSelector?: Selector;
    namespaceSelector?: Selector;
    ipBlock?: { cidr: string; except?: string[] };
}
interface Rule {
    to?: Peer[];
    from?: Peer[];
    ports?: { protocol?: string; port?: number | string }[];
}
interface Policy {
    metadata: { namespace: string };
    spec: { podSelector: Selector; policyTypes?: string[]; ingress?: Rule[]; egress?: Rule[] };
}
/** A pod, as NetworkPolicy sees it. */
interface Pod {
    name: string;
    namespace: string;
    namespaceLabels: Labels;
    labels: Labels;
}

/** Label-selector semantics of the Kubernetes API (apimachinery labels.Selector): every term must hold; `{}` selects all. */
function selects(selector: Selector, labels: Labels): boolean {
    const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
    const byExpressions = (selector.matchExpressions ?? []).every((e) => {
        const value = labels[e.key];
        switch (e.operator) {
            case "In": return value !== undefined && (e.values ?? []).includes(value);
            case "NotIn": return value === undefined || !(e.values ?? []).includes(value);
            case "Exists": return value !== undefined;
            default: return value === undefined;
        }
    });
    return byLabels && byExpressions;
}

/**
 * Whether a peer of a policy in namespace `policyNamespace` matches `pod` (networking/v1
 * NetworkPolicyPeer): a podSelector alone means pods of the policy's namespace, a namespaceSelector
 * picks namespaces (with a podSelector, those pods in them). An ipBlock matches by address, which a
 * pod of the cluster may have: counted as a match unless it is a single host, to stay on the safe side.
 */
function peerMatches(peer: Peer, policyNamespace: string, pod: Pod): boolean {
    if (peer.ipBlock) return !peer.ipBlock.cidr.endsWith("/32");
    const namespaceOk = peer.namespaceSelector ? selects(peer.namespaceSelector, pod.namespaceLabels) : pod.namespace === policyNamespace;
    return namespaceOk && (peer.podSelector ? selects(peer.podSelector, pod.labels) : true);
}

/** Whether a rule admits `peer` on TCP `port` (no ports: every port; no peers: everyone). */
function ruleAdmits(rule: Rule, peers: Peer[] | undefined, policyNamespace: string, pod: Pod, port: number): boolean {
    const portOk = rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((p) => (p.protocol ?? "TCP") === "TCP" && (p.port === undefined || p.port === port));
    return portOk && (peers === undefined || peers.length === 0 || peers.some((peer) => peerMatches(peer, policyNamespace, pod)));
}

/**
 * Whether `from` may open a TCP connection to `to` on `port`: `from`'s egress and `to`'s ingress
 * must both allow it. A pod no policy of a direction selects is not isolated in that direction.
 */
function reaches(policies: Policy[], from: Pod, to: Pod, port: number): boolean {
    const direction = (pod: Pod, type: "Egress" | "Ingress", other: Pod) => {
        const isolating = policies.filter((p) => p.metadata.namespace === pod.namespace && selects(p.spec.podSelector, pod.labels) && (p.spec.policyTypes ?? ["Ingress"]).includes(type));
        if (isolating.length === 0) return true;
        return isolating.some((p) => (type === "Egress" ? p.spec.egress : p.spec.ingress)?.some((rule) => ruleAdmits(rule, type === "Egress" ? rule.to : rule.from, p.metadata.namespace, other, port)) ?? false);
    };
    return direction(from, "Egress", to) && direction(to, "Ingress", from);
}

const policiesOf = (p: Program) => p.k8s("NetworkPolicy") as unknown as Policy[];
const podOf = (o: K8sObject, namespace: string): Pod => ({ name: o.metadata!.name!, namespace, namespaceLabels: { "kubernetes.io/metadata.name": namespace }, labels: at<Labels>(o, "spec.template.metadata.labels") });
type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
const containerEnv = (o: K8sObject): Env[] => at<Env[]>(o, "spec.template.spec.containers.0.env");
const secretInputs = (p: Program) => p.named("kubernetes:core/v1:Secret", "store-credentials").inputs;

/** The value of a recorded secret input (its wrapper removed). */
function revealed(value: unknown): Record<string, string> {
    expect(isSecretValue(value)).toBe(true);
    return (value as { value: Record<string, string> }).value;
}

/** Every string of a recorded value outside a secret (what would be stored and shown in plain text). */
function plainStrings(value: unknown): string[] {
    if (isSecretValue(value)) return [];
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(plainStrings);
    if (value && typeof value === "object") return Object.values(value).flatMap(plainStrings);
    return [];
}

/** Every egress rule of a service's allow policy. */
const egressOf = (p: Program, service: string) => at<Rule[]>(p.k8s("NetworkPolicy", `${service}-allow`)[0], "spec.egress");

describe("the in-cluster store (dev: kind)", () => {
    let p: Program;
    beforeAll(async () => {
        p = await runStack("dev");
    });

    it("runs the official Valkey image, pinned by digest, as one StatefulSet pod on a volume of the default StorageClass", () => {
        const [sts] = p.k8s("StatefulSet");
        expect(sts?.metadata).toMatchObject({ name: "store", namespace: "kubeforge" });
        expect(VALKEY_IMAGE).toMatch(/^valkey\/valkey:9\.0\.6-alpine3\.24@sha256:[0-9a-f]{64}$/);
        expect(at(sts, "spec.template.spec.containers.0.image")).toBe(VALKEY_IMAGE);
        expect(at(sts, "spec.replicas")).toBe(1);
        expect(at(sts, "spec.serviceName")).toBe("store");
        const [claim] = at<{ metadata: { name: string }; spec: Record<string, unknown> }[]>(sts, "spec.volumeClaimTemplates");
        expect(claim).toMatchObject({ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } });
        expect(claim!.spec.storageClassName).toBeUndefined();
        expect(at(sts, "spec.template.spec.containers.0.volumeMounts")).toContainEqual({ name: "data", mountPath: "/data" });
        expect(at(sts, "spec.persistentVolumeClaimRetentionPolicy")).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    });

    // valkey-io/valkey-container 9.0/alpine/Dockerfile: `addgroup -S -g 1000 valkey; adduser -S -G
    // valkey -u 999 valkey`, `WORKDIR /data`; docker-entrypoint.sh runs valkey-server directly when
    // started as non-root. So UID 999 / GID 1000 and a writable /data (the volume) are all it needs.
    it("runs under the restricted security context, as the image's valkey user, with a read-only root", () => {
        const [sts] = p.k8s("StatefulSet");
        expect([VALKEY_UID, VALKEY_GID]).toEqual([999, 1000]);
        expect(at(sts, "spec.template.spec.securityContext")).toEqual({
            runAsNonRoot: true, runAsUser: 999, runAsGroup: 1000, fsGroup: 1000, fsGroupChangePolicy: "OnRootMismatch", seccompProfile: { type: "RuntimeDefault" },
        });
        expect(at(sts, "spec.template.spec.containers.0.securityContext")).toEqual({
            allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] },
        });
        expect(at(sts, "spec.template.spec.automountServiceAccountToken")).toBe(false);
    });

    it("declares probes and explicit resources (so a capacity plan can count it)", () => {
        const [sts] = p.k8s("StatefulSet");
        const c = at<Record<string, Record<string, unknown>>>(sts, "spec.template.spec.containers.0");
        expect(c.resources).toEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "256Mi" } });
        expect(c.livenessProbe).toMatchObject({ tcpSocket: { port: "valkey" } });
        expect(c.startupProbe).toMatchObject({ tcpSocket: { port: "valkey" } });
        // Readiness checks the answer, not the exit code: valkey-cli exits 0 on a NOAUTH reply.
        expect(c.readinessProbe).toMatchObject({ exec: { command: ["sh", "-c", `valkey-cli -p ${STORE_PORT} ping | grep -q PONG`] } });
        expect(containerEnv(sts!).map((e) => [e.name, e.valueFrom?.secretKeyRef])).toEqual([
            ["REDISCLI_AUTH", { name: CREDENTIALS_SECRET, key: "password" }],
            ["VALKEYCLI_AUTH", { name: CREDENTIALS_SECRET, key: "password" }],
        ]);
    });

    it("persists to an append-only file, caps its memory below the limit, refuses writes when full, and takes its password from the Secret", () => {
        const [config] = p.k8s("ConfigMap", "store-config");
        const conf = (config?.data as Record<string, string>)["valkey.conf"]!;
        expect(conf).toBe(valkeyConfig("256Mi"));
        for (const line of ["appendonly yes", "appendfsync everysec", "dir /data", "maxmemory 192mb", "maxmemory-policy noeviction", "include /etc/valkey/auth/auth.conf"]) {
            expect(conf.split("\n")).toContain(line);
        }
        expect(maxmemory("1Gi")).toBe("768mb");
        const [sts] = p.k8s("StatefulSet");
        expect(at(sts, "spec.template.spec.volumes")).toContainEqual({ name: "auth", secret: { secretName: CREDENTIALS_SECRET, items: [{ key: "auth.conf", path: "auth.conf" }], defaultMode: 0o440 } });
    });

    it("keeps the credentials in a Secret whose data is a Pulumi secret, from a generated password", () => {
        const data = revealed(secretInputs(p).stringData);
        const [password] = p.ofType("random:index/randomPassword:RandomPassword");
        expect(password?.inputs).toMatchObject({ length: PASSWORD_LENGTH, special: false });
        expect(data.password).toMatch(new RegExp(`^[A-Za-z0-9]{${PASSWORD_LENGTH}}$`));
        expect(data.url).toBe("redis://store.kubeforge.svc.cluster.local:6379");
        expect(data["auth.conf"]).toBe(`requirepass ${data.password}\n`);
        // Nowhere in plain text: no other input, no stack output, not in kubernetes.yaml.
        for (const r of p.resources) expect(plainStrings(r.inputs).some((s) => s.includes(data.password!)), r.name).toBe(false);
        expect(JSON.stringify(p.run.outputs)).not.toContain(data.password);
        const manifest = kubernetesObjects(p.resources).find((o) => o.kind === "Secret" && (o.metadata as { name: string }).name === CREDENTIALS_SECRET);
        expect(manifest?.stringData).toEqual({ url: REDACTED, password: REDACTED, "auth.conf": REDACTED });
        expect(p.run.outputs.store).toEqual({ kind: "incluster", url: "redis://store.kubeforge.svc.cluster.local:6379" });
    });

    it("gives messages STORE_URL and STORE_PASSWORD by secretKeyRef only, and no other service anything of the store", () => {
        const env = containerEnv(p.k8s("Deployment", "messages")[0]!);
        expect(env.filter((e) => e.name.startsWith("STORE_"))).toEqual([
            { name: "STORE_URL", valueFrom: { secretKeyRef: { name: CREDENTIALS_SECRET, key: "url" } } },
            { name: "STORE_PASSWORD", valueFrom: { secretKeyRef: { name: CREDENTIALS_SECRET, key: "password" } } },
        ]);
        for (const other of ["backend", "reports"]) {
            expect(containerEnv(p.k8s("Deployment", other)[0]!).map((e) => e.name).filter((n) => n.startsWith("STORE_"))).toEqual([]);
        }
    });

    it("lets messages, and only messages, reach the store", () => {
        const policies = policiesOf(p);
        const store = podOf(p.k8s("StatefulSet")[0]!, "kubeforge");
        const pods = ["backend", "messages", "reports"].map((n) => podOf(p.k8s("Deployment", n)[0]!, "kubeforge"));
        const strangers: Pod[] = [
            { name: "unlabelled pod", namespace: "kubeforge", namespaceLabels: { "kubernetes.io/metadata.name": "kubeforge" }, labels: {} },
            { name: "messages look-alike elsewhere", namespace: "other", namespaceLabels: { "kubernetes.io/metadata.name": "other" }, labels: selectorLabels("messages", "dev") },
        ];
        const reaching = [...pods, ...strangers].filter((pod) => reaches(policies, pod, store, STORE_PORT)).map((pod) => pod.name);
        expect(reaching).toEqual(["messages"]);
        // Only the store's port, and the store itself opens nothing.
        const messages = pods[1]!;
        expect(reaches(policies, messages, store, 6380)).toBe(false);
        expect(reaches(policies, store, messages, 8080)).toBe(false);
        expect(at(p.k8s("NetworkPolicy", "store")[0], "spec.egress")).toEqual([]);
        // messages' egress is DNS (backend's first rule) and the store's pod on its port, nothing else.
        const storeRule = { to: [{ podSelector: { matchLabels: storeSelector("dev") } }], ports: [{ protocol: "TCP", port: STORE_PORT }] };
        expect(egressOf(p, "messages")).toEqual([egressOf(p, "backend")[0], storeRule]);
    });

    it("declares only Kubernetes objects that validate against the official OpenAPI schema", () => {
        const kinds = kubernetesObjects(p.resources).map((o) => { validateK8s(o); return o.kind; });
        expect(kinds).toEqual(expect.arrayContaining(["StatefulSet", "Secret", "ConfigMap", "NetworkPolicy"]));
    });
});

describe.each([
    { stack: "prod", production: true, ...ELASTICACHE_DEFAULTS.production },
    { stack: "staging", production: false, ...ELASTICACHE_DEFAULTS.other },
])("the ElastiCache store ($stack: EKS)", ({ stack, production, nodes, nodeType, snapshotRetentionDays }) => {
    let p: Program;
    const name = "store-elasticache";
    const aws = (type: string, n = name) => p.named(type, n);
    beforeAll(async () => {
        p = await runStack(stack);
    });

    it("is Valkey, encrypted in transit and at rest with a key of its own, with an AUTH token", () => {
        const group = aws("aws:elasticache/replicationGroup:ReplicationGroup").inputs;
        expect(group).toMatchObject({ engine: "valkey", engineVersion: "9.0", nodeType, port: CACHE_PORT, transitEncryptionEnabled: true, transitEncryptionMode: "required", atRestEncryptionEnabled: true });
        const key = aws("aws:kms/key:Key", `${name}-key`);
        expect(key.inputs).toMatchObject({ enableKeyRotation: true });
        expect(group.kmsKeyId).toMatch(new RegExp(`^arn:aws:kms:.*:key/`));
        expect(key.options.protect).toBe(production);
        expect(revealed(group.authToken)).toMatch(new RegExp(`^[A-Za-z0-9]{${PASSWORD_LENGTH}}$`));
    });

    it(production ? "is Multi-AZ with automatic failover, protected, with a final snapshot" : "is one node, snapshots kept a day, deletable", () => {
        const group = aws("aws:elasticache/replicationGroup:ReplicationGroup");
        expect(group.inputs).toMatchObject({ numCacheClusters: nodes, automaticFailoverEnabled: nodes > 1, multiAzEnabled: nodes > 1, snapshotRetentionLimit: snapshotRetentionDays, snapshotWindow: SNAPSHOT_WINDOW, maintenanceWindow: MAINTENANCE_WINDOW });
        expect(group.options.protect).toBe(production);
        if (production) expect(group.inputs.finalSnapshotIdentifier).toMatch(new RegExp(`^kubeforge-${stack}-store-final-[0-9a-f]{8}$`));
        else expect(group.inputs.finalSnapshotIdentifier).toBeUndefined();
        if (production) expect(nodes).toBeGreaterThanOrEqual(2);
    });

    // AWS keeps a final snapshot after its replication group is gone, and refuses to delete a group
    // whose final snapshot name is taken (SnapshotAlreadyExistsFault). A fixed name therefore fails
    // the second deletion: after a replacement, or a stack destroyed and brought up again, or in a
    // second production stack of the account. The suffix is a RandomId whose keepers are the inputs
    // that make a new group (REPLACING_INPUTS, from terraform-provider-aws's ForceNew schema).
    // Only production keeps a final snapshot (staging's is none), so only its run has the test.
    if (production) it("names its final snapshot after the cluster, with a suffix drawn anew whenever the group would be replaced", async () => {
        const group = aws("aws:elasticache/replicationGroup:ReplicationGroup").inputs;
        const id = aws("random:index/randomId:RandomId", `${name}-final-snapshot`);
        expect(id.options.dependencies).toEqual(expect.arrayContaining([expect.stringContaining(`${name}-key`), expect.stringContaining(`${name}-subnets`)]));
        expect(id.inputs.keepers).toEqual(Object.fromEntries(REPLACING_INPUTS.map((k) => [k, String(group[k])])));
        const downgraded = await runStack(stack, { "kubeforge:store": { elasticache: { engineVersion: "8.2" } } });
        const other = downgraded.named("aws:elasticache/replicationGroup:ReplicationGroup", name).inputs.finalSnapshotIdentifier;
        expect(other).toMatch(new RegExp(`^kubeforge-${stack}-store-final-[0-9a-f]{8}$`));
        expect(other).not.toBe(group.finalSnapshotIdentifier);
    });

    it("lives in the private subnets, behind a security group that admits its port from the cluster's nodes only", () => {
        const privateSubnets = p.ofType("aws:ec2/subnet:Subnet").filter((s) => s.name.includes("-network-private-")).map((s) => `${s.name}-id`);
        expect(aws("aws:elasticache/subnetGroup:SubnetGroup", `${name}-subnets`).inputs.subnetIds).toEqual(privateSubnets);
        const sg = aws("aws:ec2/securityGroup:SecurityGroup", `${name}-sg`);
        expect(sg.inputs.ingress ?? []).toEqual([]);
        expect(sg.inputs.egress ?? []).toEqual([]);
        const rules = p.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.inputs.securityGroupId === `${name}-sg-id`);
        expect(rules.map((r) => r.inputs)).toEqual([expect.objectContaining({ ipProtocol: "tcp", fromPort: CACHE_PORT, toPort: CACHE_PORT, referencedSecurityGroupId: expect.stringMatching(/^sg-/) })]);
        // The cluster security group (the mock's `sg-<hash>` of the EKS cluster): what EKS puts on
        // the managed nodes, and the VPC CNI on their pods. No CIDR is admitted.
        expect(rules[0]!.inputs.referencedSecurityGroupId).toMatch(/^sg-[0-9a-f]{8}$/);
        expect(rules[0]!.inputs.cidrIpv4).toBeUndefined();
        expect(aws("aws:elasticache/replicationGroup:ReplicationGroup").inputs.securityGroupIds).toEqual([`${name}-sg-id`]);
    });

    it("reaches messages as a rediss:// URL and the token, in a Secret that is a Pulumi secret", () => {
        const data = revealed(secretInputs(p).stringData);
        expect(data.url).toMatch(new RegExp(`^rediss://master\\.${name}\\..*\\.cache\\.amazonaws\\.com:${CACHE_PORT}$`));
        expect(data.password).toBe(revealed(aws("aws:elasticache/replicationGroup:ReplicationGroup").inputs.authToken));
        for (const r of p.resources) expect(plainStrings(r.inputs).some((s) => s.includes(data.password!)), r.name).toBe(false);
        expect(JSON.stringify(p.run.outputs)).not.toContain(data.password);
        expect(p.k8s("StatefulSet")).toEqual([]);
    });

    it("admits in messages' egress the store's port in the private subnets, and nothing else new; no other service gets it", () => {
        const privateCidrs = p.ofType("aws:ec2/subnet:Subnet").filter((s) => s.name.includes("-network-private-")).map((s) => String(s.inputs.cidrBlock));
        const storeRule = { to: privateCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: CACHE_PORT }] };
        const messagesEgress = egressOf(p, "messages");
        expect(messagesEgress).toContainEqual(storeRule);
        // backend's egress is DNS plus its two upstreams; messages' is DNS plus the store.
        expect(messagesEgress).toEqual([egressOf(p, "backend")[0], storeRule]);
        for (const other of ["backend", "reports"]) {
            const ipRules = egressOf(p, other).filter((r) => r.to?.some((peer) => peer.ipBlock));
            expect(ipRules, other).toEqual([]);
        }
    });
});

describe("an external store", () => {
    const url = "rediss://default:hunter2@cache.example.internal:6380";
    const external = { "kubeforge:store": { kind: "external", external: { url, cidrs: ["10.8.0.0/24", "10.8.1.0/24"] } } };

    it("takes the URL from a secret into the credentials Secret, and admits only its CIDRs on its port", async () => {
        const p = await runStack("dev", external, ["kubeforge:store"]);
        expect(revealed(secretInputs(p).stringData)).toEqual({ url, password: "" });
        expect(egressOf(p, "messages")).toContainEqual({ to: [{ ipBlock: { cidr: "10.8.0.0/24" } }, { ipBlock: { cidr: "10.8.1.0/24" } }], ports: [{ protocol: "TCP", port: 6380 }] });
        expect(p.k8s("StatefulSet")).toEqual([]);
        expect(p.ofType("random:index/randomPassword:RandomPassword")).toEqual([]);
        expect(p.run.outputs.store).toEqual({ kind: "external" });
        for (const r of p.resources) expect(plainStrings(r.inputs).some((s) => s.includes("hunter2")), r.name).toBe(false);
    });

    it("refuses a URL the stack holds in plain text", async () => {
        await expect(runStack("dev", external)).rejects.toThrow(
            "kubeforge:store.external.url: (not shown) is in plain text in the stack file; set it as a secret: pulumi config set --secret --path store.external.url <url>",
        );
    });
});

describe("without a service that keeps state", () => {
    it("declares no store at all", async () => {
        const p = await runStack("dev", { "kubeforge:services": { messages: { enabled: false } } });
        const storeThings = (r: RecordedResource) => r.name.startsWith("store") || r.type.startsWith("kubeforge:store");
        expect(p.resources.filter(storeThings)).toEqual([]);
        expect(p.run.outputs.store).toBeUndefined();
    });
});
