/**
 * The principal CI previews and drift checks run as (`kubeforge:cluster.eks.previewPrincipalArn`)
 * gets read-only access to the cluster, not the admin's: a view-only EKS access entry, and in the
 * namespaces holding the program's Helm releases a Role that lets `pulumi preview --refresh` read
 * them back.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { PREVIEW_ACCESS_POLICY, PREVIEW_GROUP, PREVIEW_ROLE, previewRoleRules } from "../components/cluster/eks/preview-access";
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
