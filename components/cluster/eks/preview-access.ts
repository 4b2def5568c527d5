/**
 * Read-only Kubernetes access for the principal CI previews and drift checks run as
 * (`kubeforge:cluster.eks.previewPrincipalArn`): what `pulumi preview` and
 * `pulumi preview --refresh` read, and nothing they could change the cluster with.
 *
 * - The EKS access policy `AmazonEKSViewPolicy`, cluster-wide: get/list/watch on the workload,
 *   service, policy, autoscaling and networking objects the program declares (EKS User Guide,
 *   "Review access policy permissions", awsdocs/amazon-eks-user-guide
 *   `latest/ug/manage-access/k8s-access/access-policy-reference.adoc`). It grants neither Secrets
 *   nor RBAC objects, and no write verb.
 * - Helm keeps each release in Secrets of the release's namespace, and reading a release is a
 *   `list` of them by label (helm v3.20.2 `pkg/action/get.go` -> `Storage.Last` -> `History` ->
 *   `pkg/storage/driver/secrets.go` `Query`: `secrets.impl.List(... LabelSelector ...)`), which
 *   pulumi-kubernetes does when it refreshes a `helm.v3.Release` (v4.32.0
 *   `provider/pkg/provider/helm_release.go` `Read` -> `resourceReleaseLookup` -> `action.NewGet`).
 *   A plain preview does not read them (`Check` renders client-side, `Diff` compares with the
 *   state, `Create`/`Update` skip the cluster when `req.GetPreview()`). So a Role in each release
 *   namespace grants `list` on Secrets to the principal's Kubernetes group, plus `get` on itself
 *   and its binding so that a refresh can read them back. RBAC cannot narrow a `list` by label:
 *   the principal can read every Secret of those namespaces (docs/environments.md says so).
 * - Objects the principal may not dry-run (every create and patch) are previewed client-side:
 *   pulumi-kubernetes falls back when the server-side dry run is Forbidden (v4.32.0
 *   `provider/pkg/provider/provider.go` `Create`/`Update`: `if req.GetPreview() &&
 *   apierrors.IsForbidden(awaitErr)`).
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { eksAccessPolicyArn } from "./iam";

/** Kubernetes group the preview principal's access entry puts it in; the Roles below bind it. */
export const PREVIEW_GROUP = "kubeforge-preview";

/** EKS access policy of the preview principal (cluster scope). */
export const PREVIEW_ACCESS_POLICY = "AmazonEKSViewPolicy";

/** Name of the Role and RoleBinding in each Helm release namespace. */
export const PREVIEW_ROLE = "kubeforge-preview-helm-releases";

/** The rules of {@link PREVIEW_ROLE}: list Helm's release Secrets, read back the Role and its binding. */
export function previewRoleRules(): k8s.types.input.rbac.v1.PolicyRule[] {
    return [
        { apiGroups: [""], resources: ["secrets"], verbs: ["list"] },
        { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], resourceNames: [PREVIEW_ROLE], verbs: ["get"] },
    ];
}

export interface PreviewAccessArgs {
    /** The EKS cluster. */
    clusterName: pulumi.Input<string>;
    /** AWS partition of the cluster (`aws`, `aws-cn`, `aws-us-gov`), for the access policy's ARN. */
    partition: pulumi.Input<string>;
    /** IAM role or user CI previews and drift checks run as; it must not be the admin principal. */
    principalArn: string;
    /** Namespaces holding Helm releases of the program (each gets the Role); no default. */
    releaseNamespaces: readonly string[];
    /** Kubernetes provider of the cluster (the admin), which creates the Roles. */
    k8sProvider: k8s.Provider;
    /** AWS provider of the cluster. */
    awsProvider: aws.Provider;
}

/**
 * The preview principal's access entry (group {@link PREVIEW_GROUP}), its
 * {@link PREVIEW_ACCESS_POLICY} association and the Helm-release Roles. Children of `parent`,
 * named after `name`.
 */
export function previewAccess(name: string, args: PreviewAccessArgs, parent: pulumi.Resource): void {
    const awsOpts = { parent, provider: args.awsProvider };
    const entry = new aws.eks.AccessEntry(`${name}-preview`, { clusterName: args.clusterName, principalArn: args.principalArn, type: "STANDARD", kubernetesGroups: [PREVIEW_GROUP] }, awsOpts);
    new aws.eks.AccessPolicyAssociation(
        `${name}-preview`,
        { clusterName: args.clusterName, principalArn: entry.principalArn, policyArn: pulumi.output(args.partition).apply((p) => eksAccessPolicyArn(p, PREVIEW_ACCESS_POLICY)), accessScope: { type: "cluster" } },
        awsOpts,
    );
    const labels = {
        "app.kubernetes.io/name": PREVIEW_ROLE,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": "ci-access",
        "app.kubernetes.io/part-of": "kubeforge",
        "app.kubernetes.io/managed-by": "pulumi",
    };
    const k8sOpts = { parent, provider: args.k8sProvider };
    for (const namespace of args.releaseNamespaces) {
        const metadata = { name: PREVIEW_ROLE, namespace, labels };
        const role = new k8s.rbac.v1.Role(`${name}-preview-${namespace}`, { metadata, rules: previewRoleRules() }, k8sOpts);
        new k8s.rbac.v1.RoleBinding(
            `${name}-preview-${namespace}`,
            { metadata, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: PREVIEW_GROUP }] },
            k8sOpts,
        );
    }
}
