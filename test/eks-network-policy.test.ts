/**
 * The NetworkPolicies the program generates for the EKS stacks, evaluated the way the VPC CNI's
 * network policy agent evaluates them (test/models/vpc-cni-network-policy.ts, tested against the
 * upstream cases in test/vpc-cni-network-policy.test.ts). Pods take their IPs from the private
 * subnets, as the VPC CNI hands them out; an ipBlock matches pod IPs like any other address
 * (amazon-network-policy-controller-k8s v1.1.7 buildIPBlockEndpoint copies it verbatim). So a
 * policy that admitted a subnet holding pods would admit every pod of every namespace.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { formatCidr, parseCidr } from "../components/formats";
import type { ClusterState, NetworkPolicy, Pod } from "./models/vpc-cni-network-policy";
import { ingressVerdict } from "./models/vpc-cni-network-policy";
import { type K8sObject, type Program, runStack } from "./harness";

/** The `n`-th address of a CIDR block. */
function host(cidr: string, n: number): string {
    const block = parseCidr(cidr);
    if (!block) throw new Error(`${cidr} is not a CIDR`);
    return formatCidr({ address: block.address + n, prefix: 32 }).replace(/\/32$/, "");
}

interface PodTemplate {
    metadata: { labels: Record<string, string> };
    spec: { containers: { ports?: { name?: string; containerPort: number; protocol?: "TCP" }[] }[] };
}

describe.each([
    { stack: "prod", zones: 3 },
    { stack: "staging", zones: 2 },
])("NetworkPolicies of the $stack stack under the VPC CNI's evaluation", ({ stack, zones }) => {
    const cluster = `kubeforge-${stack}`;
    let program: Program;
    let state: ClusterState;
    let namespace: string;
    const subnets = (kind: string) => [...Array(zones).keys()].map((i) => String(program.named("aws:ec2/subnet:Subnet", `${cluster}-network-${kind}-${i}`).inputs.cidrBlock));
    /** One pod of a Deployment per zone, its IP and its node's from that zone's private subnet. */
    const podsOf = (d: K8sObject, ns: string, offset: number): Pod[] => {
        const template = (d.spec as { template: PodTemplate }).template;
        return subnets("private").map((cidr, zone) => ({
            name: `${d.metadata?.name}-${zone}`,
            namespace: ns,
            labels: template.metadata.labels,
            ip: host(cidr, 100 + offset),
            nodeIP: host(cidr, 10),
            phase: "Running",
            containerPorts: template.spec.containers.flatMap((c) => c.ports ?? []),
        }));
    };
    const pod = (name: string): Pod => {
        const found = state.pods.find((p) => p.name === name);
        if (!found) throw new Error(`no pod ${name}`);
        return found;
    };
    /** Every pod of `service`, one per zone, and the verdict for `source` on each. */
    const verdicts = (service: string, source: string, port = 8080) => [...Array(zones).keys()].map((zone) => ingressVerdict(state, pod(`${service}-${zone}`), source, port));

    beforeAll(async () => {
        program = await runStack(stack);
        const [ns] = program.k8s("Namespace");
        namespace = String(ns?.metadata?.name);
        const deployments = program.k8s("Deployment");
        // An unrelated namespace whose pods carry exactly backend's labels.
        const backend = deployments.find((d) => d.metadata?.name === "backend");
        if (!backend) throw new Error("no backend Deployment");
        state = {
            namespaces: [
                // The API server labels every namespace with its name (kubernetes.io/metadata.name).
                { name: namespace, labels: { ...ns?.metadata?.labels, "kubernetes.io/metadata.name": namespace } },
                { name: "kube-system", labels: { "kubernetes.io/metadata.name": "kube-system" } },
                { name: "other", labels: { "kubernetes.io/metadata.name": "other" } },
            ],
            pods: [
                ...deployments.flatMap((d, i) => podsOf(d, namespace, i)),
                ...podsOf({ ...backend, metadata: { name: "impostor" } }, "other", 50),
                ...podsOf({ ...backend, metadata: { name: "debug" }, spec: { template: { metadata: { labels: { app: "debug" } }, spec: { containers: [] } } } }, namespace, 60),
            ],
            policies: program.k8s("NetworkPolicy") as unknown as NetworkPolicy[],
        };
    });

    it("lets the caller in: backend reaches messages and reports on their port", () => {
        for (const service of ["messages", "reports"]) {
            for (const zone of [...Array(zones).keys()]) expect(verdicts(service, pod(`backend-${zone}`).ip!), `backend-${zone} -> ${service}`).toEqual(Array(zones).fill("allow"));
        }
    });

    it("keeps out a pod that is not a caller, in the services' namespace: reports and an unrelated pod cannot reach messages", () => {
        for (const source of [pod("reports-0"), pod("debug-0"), pod(`debug-${zones - 1}`)]) expect(verdicts("messages", source.ip!), source.name).toEqual(Array(zones).fill("deny"));
        // Nor can anything reach backend, which has no callers, except its load balancer.
        expect(verdicts("backend", pod("messages-0").ip!)).toEqual(Array(zones).fill("deny"));
    });

    it("keeps out a pod in another namespace, even one labelled exactly like the caller", () => {
        for (const zone of [...Array(zones).keys()]) {
            const impostor = pod(`impostor-${zone}`);
            expect(impostor.labels).toEqual(pod("backend-0").labels);
            expect(verdicts("messages", impostor.ip!), impostor.name).toEqual(Array(zones).fill("deny"));
            expect(verdicts("reports", impostor.ip!), impostor.name).toEqual(Array(zones).fill("deny"));
        }
    });

    it("lets each NLB's own addresses in on the service's port, health checks included, and nowhere else", () => {
        const nlbAddresses = (kind: string) => subnets(kind).flatMap((cidr) => [host(cidr, 4), host(cidr, 37)]);
        for (const address of nlbAddresses("internal-lb")) {
            expect(verdicts("messages", address), address).toEqual(Array(zones).fill("allow"));
            expect(verdicts("reports", address), address).toEqual(Array(zones).fill("allow"));
            expect(verdicts("messages", address, 9464), `${address} on the metrics port`).toEqual(Array(zones).fill("deny"));
            expect(verdicts("backend", address), `internal ${address} -> backend`).toEqual(Array(zones).fill("deny"));
        }
        for (const address of nlbAddresses("public")) {
            expect(verdicts("backend", address), address).toEqual(Array(zones).fill("allow"));
            expect(verdicts("messages", address), `public ${address} -> messages`).toEqual(Array(zones).fill("deny"));
        }
    });

    it("admits no address of the pods' subnets but the callers' pods and the kubelet on the pod's own node", () => {
        for (const [zone, cidr] of subnets("private").entries()) {
            for (const n of [4, 1000, 8000]) expect(verdicts("messages", host(cidr, n)), `${host(cidr, n)}`).toEqual(Array(zones).fill("deny"));
            // Probes come from the node's primary IP, which the agent always admits (fw_rule_processor.go).
            expect(ingressVerdict(state, pod(`messages-${zone}`), host(cidr, 10), 8080)).toBe("allow");
        }
    });
});
