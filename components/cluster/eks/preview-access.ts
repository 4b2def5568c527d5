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
 * - The refresh reads back every other object the program declares too (pulumi-kubernetes v4.32.0
 *   `provider/pkg/provider/provider.go` `Read`: any error but 404 fails it), and
 *   `AmazonEKSViewPolicy` reads no Secret. So whoever declares a Secret has the principal's group
 *   granted `get` on exactly that Secret, by name, in its namespace ({@link previewSecretsAccess}:
 *   the store's credentials).
 * - Objects the principal may not dry-run (every create and patch) are previewed client-side:
 *   pulumi-kubernetes falls back when the server-side dry run is Forbidden (v4.32.0
 *   `provider/pkg/provider/provider.go` `Create`/`Update`: `if req.GetPreview() &&
 *   apierrors.IsForbidden(awaitErr)`).
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { kubeforgeLabels } from "../../microservice";
import { eksAccessPolicyArn } from "./iam";
import type { PreviewReadArgs } from "../types";

/** Kubernetes group the preview principal's access entry puts it in; the Roles below bind it. */
export const PREVIEW_GROUP = "kubeforge-preview";

/** EKS access policy of the preview principal (cluster scope). */
export const PREVIEW_ACCESS_POLICY = "AmazonEKSViewPolicy";

/** Name of the Role and RoleBinding in each Helm release namespace. */
export const PREVIEW_ROLE = "kubeforge-preview-helm-releases";

/** Name of the Role and RoleBinding that let the preview group read back the Secrets a namespace's components declare. */
export const PREVIEW_SECRETS_ROLE = "kubeforge-preview-secrets";

/** The rule that lets the preview group read back a Role of its own and that Role's binding (a refresh reads both). */
function readSelf(role: string): k8s.types.input.rbac.v1.PolicyRule {
    return { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], resourceNames: [role], verbs: ["get"] };
}

/** The rules of {@link PREVIEW_ROLE}: list Helm's release Secrets, read back the Role and its binding. */
export function previewRoleRules(): k8s.types.input.rbac.v1.PolicyRule[] {
    return [{ apiGroups: [""], resources: ["secrets"], verbs: ["list"] }, readSelf(PREVIEW_ROLE)];
}

/** The rules of {@link PREVIEW_SECRETS_ROLE}: `get` on these Secrets by name (no `list`), read back the Role and its binding. */
export function previewSecretsRules(secrets: readonly string[]): k8s.types.input.rbac.v1.PolicyRule[] {
    return [{ apiGroups: [""], resources: ["secrets"], resourceNames: [...secrets], verbs: ["get"] }, readSelf(PREVIEW_SECRETS_ROLE)];
}

/** A Role `role` in `namespace` with `rules`, bound to {@link PREVIEW_GROUP}, both named `name` in Pulumi and labelled as part of `instance`. */
function previewRole(name: string, instance: string, role: string, namespace: pulumi.Input<string>, rules: k8s.types.input.rbac.v1.PolicyRule[], opts: pulumi.CustomResourceOptions): void {
    const metadata = { name: role, namespace, labels: kubeforgeLabels(role, instance, "ci-access") };
    const created = new k8s.rbac.v1.Role(name, { metadata, rules }, opts);
    new k8s.rbac.v1.RoleBinding(
        name,
        { metadata, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: created.metadata.name }, subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: PREVIEW_GROUP }] },
        opts,
    );
}

/**
 * The Role {@link PREVIEW_SECRETS_ROLE} in `args.namespace` (created there, so it waits for the
 * namespace), bound to {@link PREVIEW_GROUP}: `get` on exactly `args.secrets`, so that a refresh
 * (the drift check) can read those Secrets back. Both named `name`, labelled as part of `name`;
 * `opts` carries the parent and the cluster's Kubernetes provider.
 */
export function previewSecretsAccess(name: string, args: PreviewReadArgs, opts: pulumi.CustomResourceOptions): void {
    previewRole(name, name, PREVIEW_SECRETS_ROLE, args.namespace, previewSecretsRules(args.secrets), opts);
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
    for (const namespace of args.releaseNamespaces) {
        previewRole(`${name}-preview-${namespace}`, name, PREVIEW_ROLE, namespace, previewRoleRules(), { parent, provider: args.k8sProvider });
    }
}
