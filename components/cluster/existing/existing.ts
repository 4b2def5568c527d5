/**
 * Cluster flavour `existing`: whatever cluster the current kubeconfig (or a named context)
 * points at. Nothing is created but a provider; Services of type LoadBalancer get whatever the
 * cluster's own load-balancer implementation gives them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../../config";
import type { ImageRegistry, KubeCluster, LoadBalancerScope, LoadBalancerSpec } from "../types";

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
    /** A few seconds: how long an unknown load-balancer implementation needs is not known here. */
    readonly drainSeconds = 10;
    readonly namespaceLabels: Record<string, string> = {};
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

    /**
     * The cluster's own load-balancer implementation decides everything; traffic may come from
     * anywhere. It cannot be told to keep a load balancer internal without provider-specific
     * annotations this flavour does not know, so `internal` warns.
     */
    loadBalancer(scope: LoadBalancerScope): LoadBalancerSpec {
        if (scope === "internal") {
            pulumi.log.warn("the existing cluster flavour cannot make a load balancer internal: services with loadBalancer \"internal\" get the cluster's default load balancer, which may face the internet", this);
        }
        return { annotations: {}, sourceRanges: ["0.0.0.0/0"] };
    }
}
