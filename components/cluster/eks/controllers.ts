/**
 * Controllers the EKS flavour runs in the cluster, each from its official Helm chart with an IAM
 * role bound to its ServiceAccount through EKS Pod Identity: the Cluster Autoscaler (adds and
 * removes nodes) and the AWS Load Balancer Controller (an NLB per public Service).
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HELM_RELEASE_OPTIONS } from "../../helm";
import { clusterAutoscalerPolicy, loadBalancerControllerPolicy, type PolicyDocument, podIdentityTrustPolicy } from "./iam";
import { CLUSTER_AUTOSCALER_RELEASES, type ClusterAutoscalerRelease } from "./values";

/** A pinned Helm chart. */
export interface ChartRef {
    chart: string;
    repo: string;
    version: string;
}

/** Where the Cluster Autoscaler chart comes from; its version is paired with the image per Kubernetes minor. */
const CLUSTER_AUTOSCALER_CHART_REPO = "https://kubernetes.github.io/autoscaler";

/** The Cluster Autoscaler release paired with a Kubernetes minor version (see {@link CLUSTER_AUTOSCALER_RELEASES}). */
function clusterAutoscalerRelease(kubernetesVersion: string): ClusterAutoscalerRelease {
    const release = CLUSTER_AUTOSCALER_RELEASES[kubernetesVersion];
    if (release === undefined) throw new Error(`no Cluster Autoscaler release is paired with Kubernetes ${kubernetesVersion}`);
    return release;
}

/** Cluster Autoscaler chart for a Kubernetes minor version. */
export function clusterAutoscalerChart(kubernetesVersion: string): ChartRef {
    return { chart: "cluster-autoscaler", repo: CLUSTER_AUTOSCALER_CHART_REPO, version: clusterAutoscalerRelease(kubernetesVersion).chart };
}

/** Cluster Autoscaler image for a Kubernetes minor version. */
export function clusterAutoscalerImage(kubernetesVersion: string): { repository: string; tag: string } {
    return { repository: "registry.k8s.io/autoscaling/cluster-autoscaler", tag: clusterAutoscalerRelease(kubernetesVersion).image };
}

/**
 * AWS Load Balancer Controller chart 3.5.0 (aws/eks-charts; `appVersion` and `image.tag` v3.5.0),
 * pinned with the IAM policy of the same controller tag in policies/ (policies/README.md): one
 * released triple. v3.5.0 is the newest release (2026-08-03); the v2 line has had no release since
 * v2.17.1 (2026-01-09). kubeforge installs it afresh, so the chart's `crds/` apply; Helm does not
 * upgrade `crds/` of an existing release, which the chart's README has applied by hand (README.md,
 * "Cloud stacks").
 */
export const LOAD_BALANCER_CONTROLLER_CHART: ChartRef = { chart: "aws-load-balancer-controller", repo: "https://aws.github.io/eks-charts", version: "3.5.0" };

/**
 * The `loadBalancerClass` the controller reconciles (aws-load-balancer-controller v3.5.0
 * pkg/config/service_config.go: the `--load-balancer-class` default, which the chart leaves alone
 * unless its `loadBalancerClass` value is set). kubeforge's Services carry it themselves.
 */
export const LOAD_BALANCER_CLASS = "service.k8s.aws/nlb";

/** Namespace both controllers run in. */
export const CONTROLLER_NAMESPACE = "kube-system";
/** ServiceAccount of the Cluster Autoscaler (set in the chart values, bound to its IAM role). */
export const CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler";
/** ServiceAccount of the load-balancer controller (set in the chart values, bound to its IAM role). */
export const LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller";

/** What every controller needs to know about the cluster. */
export interface ControllerArgs {
    /** EKS cluster name (also the Auto Scaling group tag suffix). */
    clusterName: pulumi.Input<string>;
    /** EKS cluster ARN (the controllers' roles trust only this cluster's Pod Identity sessions). */
    clusterArn: pulumi.Input<string>;
    /** Kubernetes minor version of the cluster (picks the Cluster Autoscaler release). */
    kubernetesVersion: string;
    /** Region the controllers call AWS APIs in (given explicitly: with IMDS hop limit 1 pods cannot ask the instance). */
    region: string;
    /** Kubernetes provider of the cluster. */
    k8sProvider: k8s.Provider;
    /** AWS provider for the IAM role and Pod Identity association. */
    awsProvider: aws.Provider;
    /** What must exist before the controller's pods can run (nodes, the Pod Identity agent). */
    dependsOn: pulumi.Resource[];
}

/**
 * An IAM role for a ServiceAccount, bound through EKS Pod Identity: trust `pods.eks.amazonaws.com`
 * for that ServiceAccount of this cluster only, a customer-managed policy with `document`, and the
 * association.
 */
function podIdentityRole(name: string, args: ControllerArgs, serviceAccount: string, document: pulumi.Input<PolicyDocument>, parent: pulumi.Resource) {
    const opts = { parent, provider: args.awsProvider };
    const trust = pulumi.output(args.clusterArn).apply((arn) => JSON.stringify(podIdentityTrustPolicy(arn, CONTROLLER_NAMESPACE, serviceAccount)));
    const role = new aws.iam.Role(name, { assumeRolePolicy: trust, description: `EKS Pod Identity role of ${CONTROLLER_NAMESPACE}/${serviceAccount}` }, opts);
    const policy = new aws.iam.Policy(name, { policy: pulumi.output(document).apply((d) => JSON.stringify(d)), description: `Permissions of ${CONTROLLER_NAMESPACE}/${serviceAccount}` }, opts);
    const attachment = new aws.iam.RolePolicyAttachment(name, { role: role.name, policyArn: policy.arn }, opts);
    const association = new aws.eks.PodIdentityAssociation(name, { clusterName: args.clusterName, namespace: CONTROLLER_NAMESPACE, serviceAccount, roleArn: role.arn }, { ...opts, dependsOn: [attachment] });
    return { role, policy, association };
}

function release(name: string, ref: ChartRef, values: pulumi.Inputs, args: ControllerArgs, parent: pulumi.Resource, association: pulumi.Resource): k8s.helm.v3.Release {
    return new k8s.helm.v3.Release(
        name,
        // A fixed release name: Pulumi's auto-name would add a suffix and can pass Helm's 53 characters.
        { name: ref.chart, chart: ref.chart, version: ref.version, repositoryOpts: { repo: ref.repo }, namespace: CONTROLLER_NAMESPACE, values, ...HELM_RELEASE_OPTIONS },
        // The role must be bound before the pods start, or they run without AWS credentials.
        { parent, provider: args.k8sProvider, dependsOn: [...args.dependsOn, association] },
    );
}

/** Helm values of the Cluster Autoscaler: discover this cluster's node groups by their tags. */
export function clusterAutoscalerValues(clusterName: pulumi.Input<string>, region: string, kubernetesVersion: string): pulumi.Inputs {
    return {
        fullnameOverride: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
        image: clusterAutoscalerImage(kubernetesVersion),
        cloudProvider: "aws",
        awsRegion: region,
        autoDiscovery: { clusterName },
        rbac: { serviceAccount: { create: true, name: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT } },
        // Requests and limit of the autoscaler's example manifest (cloudprovider/aws/examples).
        resources: { requests: { cpu: "100m", memory: "600Mi" }, limits: { memory: "600Mi" } },
        extraArgs: {
            // Zonal node groups of the same shape grow evenly, so pods can keep spreading over zones.
            "balance-similar-node-groups": true,
            expander: "least-waste",
            "skip-nodes-with-system-pods": false,
        },
    };
}

/** Cluster Autoscaler with its IAM role (exactly the README's permissions, mutations scoped to this cluster's groups). */
export function clusterAutoscaler(name: string, args: ControllerArgs, parent: pulumi.Resource): k8s.helm.v3.Release {
    const roleName = `${name}-cluster-autoscaler`;
    const { association } = podIdentityRole(roleName, args, CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, pulumi.output(args.clusterName).apply(clusterAutoscalerPolicy), parent);
    return release(roleName, clusterAutoscalerChart(args.kubernetesVersion), clusterAutoscalerValues(args.clusterName, args.region, args.kubernetesVersion), args, parent, association);
}

/**
 * Helm values of the AWS Load Balancer Controller. Its Service mutating webhook stays off: the
 * chart registers it for every Service CREATE in the cluster with `failurePolicy: Fail` (chart
 * 3.5.0 templates/webhook.yaml `mservice.elbv2.k8s.aws`, no namespaceSelector by default), so any
 * Service created before the controller's pods are ready fails, a Helm release's included
 * (aws-load-balancer-controller#4140). All it would do is set `spec.loadBalancerClass` on Services
 * of type LoadBalancer, which kubeforge's set themselves ({@link LOAD_BALANCER_CLASS}). The pod
 * webhook that injects readiness gates stays, failing open (`failurePolicy: Ignore`, the 3.5.0
 * default) and only in namespaces labelled for it.
 */
export function loadBalancerControllerValues(clusterName: pulumi.Input<string>, region: string, vpcId: pulumi.Input<string>): pulumi.Inputs {
    return {
        clusterName,
        region,
        vpcId,
        serviceAccount: { create: true, name: LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT },
        enableServiceMutatorWebhook: false,
        // Two replicas, at most one down at a time: it registers every pod of the services as an NLB target.
        replicaCount: 2,
        podDisruptionBudget: { maxUnavailable: 1 },
    };
}

/** AWS Load Balancer Controller with its official IAM policy. */
export function loadBalancerController(name: string, vpcId: pulumi.Input<string>, args: ControllerArgs, parent: pulumi.Resource): k8s.helm.v3.Release {
    const roleName = `${name}-aws-load-balancer-controller`;
    const { association } = podIdentityRole(roleName, args, LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT, loadBalancerControllerPolicy(), parent);
    return release(roleName, LOAD_BALANCER_CONTROLLER_CHART, loadBalancerControllerValues(args.clusterName, args.region, vpcId), args, parent, association);
}
