/**
 * Pods the plan counts besides the services', for what it cannot read from the program: EKS
 * add-ons, the Helm charts' defaults, and kind's own system pods. Each entry names its source;
 * values a release or the program sets (replicas, resources) win over the chart's defaults.
 */
import { cpuMillis, memoryBytes } from "../../components/formats";
import { isPlainObject } from "../../components/config";

/** CPU (millicores) and memory (bytes). */
export interface Resources {
    cpu: number;
    memory: number;
}

/** One kind of pod and its requests. */
export interface PodTemplate {
    /** What it is, e.g. `coredns`. */
    name: string;
    requests: Resources;
    /** Whether it tolerates the control-plane taint (kind: CoreDNS, local-path-provisioner). Default false. */
    toleratesControlPlane?: boolean;
    /** Where the requests (and replica count) come from. */
    source: string;
}

/** Pods a Deployment or StatefulSet keeps, cluster-wide. */
export interface ReplicatedPods extends PodTemplate {
    replicas: number;
}

const MI = 2 ** 20;

/** EKS managed add-ons the program installs (components/cluster/eks/config.ts EKS_ADDONS): a DaemonSet pod per node, or cluster-wide pods. */
export const EKS_ADDON_PODS: Readonly<Record<string, { daemonSet?: PodTemplate; deployment?: ReplicatedPods }>> = {
    "vpc-cni": {
        daemonSet: {
            name: "aws-node",
            // Containers aws-node and aws-eks-nodeagent (the network policy agent, on: the program sets
            // enableNetworkPolicy) each request 25m; init container aws-vpc-cni-init 25m (max(50, 25) = 50).
            requests: { cpu: 50, memory: 0 },
            source: "aws/amazon-vpc-cni-k8s v1.23.0 config/master/aws-k8s-cni.yaml",
        },
    },
    "kube-proxy": {
        daemonSet: {
            name: "kube-proxy",
            requests: { cpu: 100, memory: 0 },
            source: "EKS kube-proxy add-on DaemonSet as dumped from a cluster (cpu: 100m); aws/containers-roadmap#1509: no memory request. Not in a public AWS manifest: check with kubectl -n kube-system get ds kube-proxy -o yaml",
        },
    },
    "eks-pod-identity-agent": {
        daemonSet: { name: "eks-pod-identity-agent", requests: { cpu: 0, memory: 0 }, source: "aws/eks-pod-identity-agent v0.1.37 charts/eks-pod-identity-agent/values.yaml: resources: {}" },
    },
    coredns: {
        deployment: {
            name: "coredns",
            replicas: 2,
            requests: { cpu: 100, memory: 70 * MI },
            source: "awsdocs/amazon-eks-user-guide eks-networking-add-ons.adoc: \"two replicas of the CoreDNS image are deployed by default\"; requests 100m/70Mi as kubeadm's CoreDNS manifest (cmd/kubeadm/app/phases/addons/dns/manifests.go)",
        },
    },
};

/** A Helm chart the program installs: where its values set replicas and requests, and the chart's defaults. */
export interface ChartPods {
    /** Top-level values key of the replica count. */
    replicasKey: string;
    /** The chart's default replica count. */
    replicas: number;
    /** The chart's default requests (from its `resources` value). */
    requests: Resources;
    source: string;
}

export const HELM_CHART_PODS: Readonly<Record<string, ChartPods>> = {
    "metrics-server": {
        replicasKey: "replicas",
        replicas: 1,
        requests: { cpu: 100, memory: 200 * MI },
        source: "kubernetes-sigs/metrics-server tag metrics-server-helm-chart-3.13.1 charts/metrics-server/values.yaml (replicas: 1; resources.requests 100m/200Mi; addonResizer off)",
    },
    "cluster-autoscaler": {
        replicasKey: "replicaCount",
        replicas: 1,
        requests: { cpu: 0, memory: 0 },
        source: "kubernetes/autoscaler tag cluster-autoscaler-chart-9.59.0 cluster-autoscaler/charts/cluster-autoscaler/values.yaml (replicaCount: 1; resources: {})",
    },
    "aws-load-balancer-controller": {
        replicasKey: "replicaCount",
        replicas: 2,
        requests: { cpu: 0, memory: 0 },
        source: "aws/eks-charts stable/aws-load-balancer-controller/values.yaml at chart 3.5.0 (5239609): replicaCount: 2; resources: {}",
    },
};

/** kind's system pods (kindest/node images bake these manifests in; kubeadm writes the static pods). */
export const KIND_SYSTEM_PODS: { perNode: PodTemplate[]; controlPlane: PodTemplate[]; cluster: ReplicatedPods[] } = {
    perNode: [
        { name: "kindnet", requests: { cpu: 100, memory: 50 * MI }, source: "kubernetes-sigs/kind v0.32.0 (cda67ef) pkg/build/nodeimage/const_cni.go: requests cpu 100m, memory 50Mi (HEAD keeps the requests)" },
        { name: "kube-proxy", requests: { cpu: 0, memory: 0 }, source: "kubernetes/kubernetes cmd/kubeadm/app/phases/addons/proxy/manifests.go: no resources" },
    ],
    controlPlane: [
        { name: "kube-apiserver", requests: { cpu: 250, memory: 0 }, source: "kubernetes/kubernetes cmd/kubeadm/app/phases/controlplane/manifests.go: ComponentResources(\"250m\")" },
        { name: "kube-controller-manager", requests: { cpu: 200, memory: 0 }, source: "kubernetes/kubernetes cmd/kubeadm/app/phases/controlplane/manifests.go: ComponentResources(\"200m\")" },
        { name: "kube-scheduler", requests: { cpu: 100, memory: 0 }, source: "kubernetes/kubernetes cmd/kubeadm/app/phases/controlplane/manifests.go: ComponentResources(\"100m\")" },
        { name: "etcd", requests: { cpu: 100, memory: 100 * MI }, source: "kubernetes/kubernetes cmd/kubeadm/app/phases/etcd/local.go @0009808f GetEtcdPodSpec: requests cpu 100m, memory 100Mi" },
    ],
    cluster: [
        { name: "coredns", replicas: 2, requests: { cpu: 100, memory: 70 * MI }, toleratesControlPlane: true, source: "kubernetes/kubernetes cmd/kubeadm/app/phases/addons/dns/manifests.go: requests cpu 100m, memory 70Mi; kubeadm's 2 replicas" },
        { name: "local-path-provisioner", replicas: 1, requests: { cpu: 0, memory: 0 }, toleratesControlPlane: true, source: "kubernetes-sigs/kind v0.32.0 pkg/build/nodeimage/const_storage.go: replicas 1, no resources" },
    ],
};

/** The `resources.requests` of Helm values or a container spec, in millicores and bytes; undefined where not set. */
export function requestsOf(resources: unknown): Partial<Resources> {
    const requests = isPlainObject(resources) && isPlainObject(resources.requests) ? resources.requests : {};
    const out: Partial<Resources> = {};
    if (typeof requests.cpu === "string" || typeof requests.cpu === "number") out.cpu = cpuMillis(String(requests.cpu));
    if (typeof requests.memory === "string" || typeof requests.memory === "number") out.memory = memoryBytes(String(requests.memory));
    return out;
}

/** A Helm release's pods: the chart's defaults under the release's values; undefined for a chart not in {@link HELM_CHART_PODS}. */
export function helmReleasePods(chart: string, values: unknown): ReplicatedPods | undefined {
    const known = HELM_CHART_PODS[chart];
    if (known === undefined) return undefined;
    const v = isPlainObject(values) ? values : {};
    const replicas = typeof v[known.replicasKey] === "number" ? (v[known.replicasKey] as number) : known.replicas;
    // Helm merges the release's values over the chart's, key by key.
    const set = requestsOf(v.resources);
    const fromValues = set.cpu !== undefined || set.memory !== undefined || typeof v[known.replicasKey] === "number";
    return {
        name: chart,
        replicas,
        requests: { cpu: set.cpu ?? known.requests.cpu, memory: set.memory ?? known.requests.memory },
        source: fromValues ? `the program's Helm values over the chart's (${known.source})` : known.source,
    };
}
