/**
 * Cluster flavour `existing`: whatever cluster the current kubeconfig (or a named context)
 * points at. Nothing is created but a provider; Services of type LoadBalancer get whatever the
 * cluster's own load-balancer implementation gives them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../config";
import type { ImageRegistry, KubeCluster } from "./index";

export interface ExistingClusterArgs {
    /** Validated settings; reads `cluster.context` (default: the kubeconfig's current context) and `cluster.registry` (default: none). */
    settings: Settings;
}

/** A provider for an existing cluster, implementing {@link KubeCluster}. */
export class ExistingCluster extends pulumi.ComponentResource implements KubeCluster {
    readonly flavour = "existing" as const;
    readonly provider: k8s.Provider;
    readonly kubeconfig: pulumi.Output<string>;
    readonly clusterName: pulumi.Output<string>;
    readonly loadBalancerAnnotations: Record<string, string> = {};
    readonly loadBalancerSourceRanges = ["0.0.0.0/0"];
    readonly hasZones = false;
    readonly kubeletInsecureTls = false;
    readonly registry?: ImageRegistry;
    readonly workloadDependencies: pulumi.Resource[] = [];
    readonly details: Record<string, pulumi.Input<string>>;

    constructor(name: string, args: ExistingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:cluster:ExistingCluster", name, {}, opts);
        const { context, registry } = args.settings.cluster;
        this.provider = new k8s.Provider(`${name}-k8s`, { context }, { parent: this });
        // The provider reads ~/.kube/config (or $KUBECONFIG) itself; there is nothing to export.
        this.kubeconfig = pulumi.secret("");
        this.clusterName = pulumi.output(context ?? "current-context");
        this.details = { context: this.clusterName, ...(registry ? { registry } : {}) };
        if (registry) {
            this.registry = { repository: (service) => pulumi.output(`${registry}/${service}`) };
        }
        this.registerOutputs({ clusterName: this.clusterName });
    }
}
