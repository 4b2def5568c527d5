/**
 * The principal CI previews and drift checks run as (`kubeforge:cluster.eks.previewPrincipalArn`)
 * gets read-only access to the cluster, not the admin's: a view-only EKS access entry, and in the
 * namespaces holding the program's Helm releases a Role that lets `pulumi preview --refresh` read
 * them back.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { PREVIEW_ACCESS_POLICY, PREVIEW_GROUP, PREVIEW_ROLE, PREVIEW_SECRETS_ROLE, previewRoleRules, previewSecretsRules } from "../components/cluster/eks/preview-access";
import { CREDENTIALS_SECRET } from "../components/store/store";
import { buildEksCluster, ofType, one, stackSettings } from "./eks-mocks";
import { type Program, runStack } from "./harness";
import { validateK8s } from "./validate";

const PREVIEW = "arn:aws:iam::111122223333:role/kubeforge-preview";
const ENTRY = "aws:eks/accessEntry:AccessEntry";
const ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation";
const ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role";
const BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding";

/** Verbs that change objects; the preview principal must hold none of them. */
const WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate", "*"];

describe.each(["prod", "staging"])("the preview principal on %s", (stack) => {
    const name = `kubeforge-${stack}`;
    beforeAll(async () => {
        vi.spyOn(pulumi.log, "warn").mockImplementation(async () => undefined);
        await buildEksCluster(stackSettings(stack));
    });

    // awsdocs/amazon-eks-user-guide latest/ug/manage-access/k8s-access/access-policy-reference.adoc:
    // AmazonEKSViewPolicy, ARN {arn-aws}eks::aws:cluster-access-policy/AmazonEKSViewPolicy, grants
    // get/list/watch only, and neither Secrets nor RBAC objects.
    it("gets its own access entry in the preview group with AmazonEKSViewPolicy on the whole cluster, and no other policy", () => {
        expect(one(ENTRY, `${name}-preview`).inputs).toEqual({ clusterName: name, principalArn: PREVIEW, type: "STANDARD", kubernetesGroups: [PREVIEW_GROUP] });
        const policies = ofType(ASSOCIATION, name).filter((a) => a.inputs.principalArn === PREVIEW);
        expect(policies.map((a) => a.inputs)).toEqual([
            { clusterName: name, principalArn: PREVIEW, policyArn: `arn:aws:eks::aws:cluster-access-policy/${PREVIEW_ACCESS_POLICY}`, accessScope: { type: "cluster" } },
        ]);
        expect(one(ENTRY, `${name}-admin`).inputs.principalArn).not.toBe(PREVIEW);
    });

    it("may list Secrets (Helm's release records) and read back its own Role and binding in kube-system, and change nothing", () => {
        const role = one(ROLE, `${name}-preview-kube-system`).inputs;
        expect(role.metadata).toMatchObject({ name: PREVIEW_ROLE, namespace: "kube-system" });
        expect(role.rules).toEqual(previewRoleRules());
        expect(previewRoleRules()).toEqual([
            { apiGroups: [""], resources: ["secrets"], verbs: ["list"] },
            { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], resourceNames: [PREVIEW_ROLE], verbs: ["get"] },
        ]);
        expect(previewRoleRules().flatMap((r) => r.verbs as string[]).filter((v) => WRITE_VERBS.includes(v))).toEqual([]);
        const binding = one(BINDING, `${name}-preview-kube-system`).inputs;
        expect(binding).toMatchObject({
            metadata: { name: PREVIEW_ROLE, namespace: "kube-system" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: PREVIEW_ROLE },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: PREVIEW_GROUP }],
        });
        validateK8s({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", ...role });
        validateK8s({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", ...binding });
    });
});

describe("a stack without a preview principal", () => {
    it("declares no preview access entry and no Role", async () => {
        vi.spyOn(pulumi.log, "warn").mockImplementation(async () => undefined);
        await buildEksCluster(stackSettings("prod", (raw) => void delete (raw.cluster as { eks: Record<string, unknown> }).eks.previewPrincipalArn, "nopreview"));
        expect(ofType(ENTRY, "kubeforge-nopreview-").map((e) => e.name).sort()).toEqual(["kubeforge-nopreview-admin", "kubeforge-nopreview-nodes"]);
        expect(ofType(ROLE, "kubeforge-nopreview-")).toEqual([]);
    });
});

// pulumi-kubernetes v4.32.0 provider/pkg/provider/helm_release.go Read (a refresh) looks a release
// up with helm's action.Get, which lists the Secrets labelled owner=helm,name=<release> in the
// release's namespace (helm v3.20.2 pkg/storage/driver/secrets.go Query). Every Helm release the
// whole program declares must therefore sit in a namespace where the preview group may list Secrets.
describe("the whole prod program", () => {
    let program: Program;
    beforeAll(async () => {
        program = await runStack("prod");
    });

    it("lets the preview group list Secrets in the namespace of every Helm release", () => {
        const releases = program.ofType("kubernetes:helm.sh/v3:Release");
        expect(releases.length).toBeGreaterThanOrEqual(3);
        const readable = program
            .k8s("RoleBinding")
            .filter((b) => JSON.stringify(b.subjects) === JSON.stringify([{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: PREVIEW_GROUP }]))
            .filter((b) => program.k8s("Role", (b.roleRef as { name: string }).name).some((r) => r.metadata?.namespace === b.metadata?.namespace && JSON.stringify(r.rules).includes('"resources":["secrets"],"verbs":["list"]')))
            .map((b) => b.metadata?.namespace);
        for (const release of releases) expect(readable, release.name).toContain(release.inputs.namespace);
    });
});

/**
 * What AmazonEKSViewPolicy lets a principal `get`, by API group and resource (awsdocs/amazon-eks-user-guide
 * latest/ug/manage-access/k8s-access/access-policy-reference.adoc, "AmazonEKSViewPolicy": every row
 * grants get, list and watch; neither Secrets nor RBAC objects are in it).
 */
const VIEW_POLICY_GETS: Readonly<Record<string, readonly string[]>> = {
    apps: ["controllerrevisions", "daemonsets", "deployments", "replicasets", "statefulsets"],
    autoscaling: ["horizontalpodautoscalers"],
    batch: ["cronjobs", "jobs"],
    "discovery.k8s.io": ["endpointslices"],
    "networking.k8s.io": ["ingresses", "networkpolicies"],
    policy: ["poddisruptionbudgets"],
    "": ["configmaps", "endpoints", "persistentvolumeclaims", "pods", "replicationcontrollers", "serviceaccounts", "services", "bindings", "events", "limitranges", "resourcequotas", "namespaces"],
};

interface Rule {
    apiGroups?: string[];
    resources?: string[];
    resourceNames?: string[];
    verbs?: string[];
}

/** API group and resource (plural) of a pulumi-kubernetes type token: `kubernetes:networking.k8s.io/v1:NetworkPolicy` -> networking.k8s.io, networkpolicies. */
function groupResource(type: string): { group: string; resource: string } {
    const [, groupVersion = "", kind = ""] = type.split(":");
    const group = groupVersion.split("/")[0] ?? "";
    const lower = kind.toLowerCase();
    return { group: group === "core" ? "" : group, resource: lower.endsWith("y") ? `${lower.slice(0, -1)}ies` : `${lower}s` };
}

// pulumi-kubernetes v4.32.0 provider/pkg/provider/provider.go Read: a refresh GETs every object in
// the state, and any answer but 404 (a 403 included) fails it, so the drift check
// (`pulumi preview --refresh`, as the preview principal) needs `get` on every object the program
// declares: through AmazonEKSViewPolicy, or through a Role bound to the preview group in the
// object's namespace (RBAC: a rule matches when its group, resource and verb match and it names
// no resourceNames or names this object).
describe.each(["prod", "staging"])("the drift check's refresh of the whole %s program", (stack) => {
    let program: Program;
    beforeAll(async () => {
        program = await runStack(stack);
    });

    function mayGet(type: string, namespace: string | undefined, name: string): boolean {
        const { group, resource } = groupResource(type);
        if (VIEW_POLICY_GETS[group]?.includes(resource)) return true;
        const boundRoles = program
            .k8s("RoleBinding")
            .filter((b) => b.metadata?.namespace === namespace && JSON.stringify(b.subjects) === JSON.stringify([{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: PREVIEW_GROUP }]))
            .map((b) => (b.roleRef as { name: string }).name);
        const rules = program.k8s("Role").filter((r) => r.metadata?.namespace === namespace && boundRoles.includes(r.metadata?.name ?? "")).flatMap((r) => (r.rules ?? []) as Rule[]);
        return rules.some((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource) && r.verbs?.includes("get") && (r.resourceNames === undefined || r.resourceNames.includes(name)));
    }

    it("may get every Kubernetes object the program declares (Helm releases are listed, above)", () => {
        const objects = program.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/"));
        expect(objects.map((o) => o.type)).toContain("kubernetes:core/v1:Secret");
        const unreadable = objects
            .map((o) => ({ type: o.type, metadata: (o.inputs as { metadata?: { name?: string; namespace?: string } }).metadata ?? {} }))
            .filter(({ type, metadata }) => !mayGet(type, metadata.namespace, metadata.name ?? ""))
            .map(({ type, metadata }) => `${type} ${metadata.namespace ?? ""}/${metadata.name ?? ""}`);
        expect(unreadable).toEqual([]);
    });

    it("may get the store's credentials Secret by name only, and read back that Role; no list, no write", () => {
        const role = program.k8s("Role", PREVIEW_SECRETS_ROLE);
        expect(role.map((r) => r.metadata?.namespace)).toEqual(["kubeforge"]);
        expect(role[0]!.rules).toEqual(previewSecretsRules([CREDENTIALS_SECRET]));
        expect(previewSecretsRules([CREDENTIALS_SECRET])).toEqual([
            { apiGroups: [""], resources: ["secrets"], resourceNames: [CREDENTIALS_SECRET], verbs: ["get"] },
            { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], resourceNames: [PREVIEW_SECRETS_ROLE], verbs: ["get"] },
        ]);
        expect(mayGet("kubernetes:core/v1:Secret", "kubeforge", "another-secret")).toBe(false);
        validateK8s({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", ...role[0] });
        validateK8s({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", ...program.k8s("RoleBinding", PREVIEW_SECRETS_ROLE)[0] });
    });
});
