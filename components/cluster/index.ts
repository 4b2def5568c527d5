/**
 * The cluster interface every flavour implements (`existing`, `kind`, `eks`), and the factory
 * that picks one from settings. Everything downstream (platform, images, services) only sees
 * {@link KubeCluster}, so the three services deploy unchanged to any flavour.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterFlavour, Settings } from "../config";
import { EksCluster } from "./eks";
import { ExistingCluster } from "./existing";
import { KindCluster } from "./kind";

/** Where service images are pushed to and pulled from. */
export interface ImageRegistry {
    /** Repository (without tag) for a service's image, e.g. `localhost:5001/backend`. */
    repository(service: string): pulumi.Output<string>;
    /** Platform images are built for (e.g. `linux/amd64`); undefined builds for the local machine's. */
    readonly platform?: string;
    /** Push credentials; undefined when the local Docker credential store already has them. */
    readonly credentials?: pulumi.Output<RegistryCredentials>;
}

/** Credentials `docker push` needs for a registry. */
export interface RegistryCredentials {
    server: string;
    username: string;
    password: string;
}

/** What every cluster flavour gives the rest of the program. */
export interface KubeCluster {
    /** The flavour that built this cluster. */
    readonly flavour: ClusterFlavour;
    /** Provider every Kubernetes object of the program is created with. */
    readonly provider: k8s.Provider;
    /** Kubeconfig for this cluster (secret). */
    readonly kubeconfig: pulumi.Output<string>;
    /** Cluster name, as the flavour knows it. */
    readonly clusterName: pulumi.Output<string>;
    /** Annotations a public Service of type LoadBalancer needs on this cluster (may be empty). */
    readonly loadBalancerAnnotations: Record<string, string>;
    /**
     * CIDRs that load-balancer traffic reaches the pods from; public services' NetworkPolicies
     * admit these on the service port.
     */
    readonly loadBalancerSourceRanges: pulumi.Input<string>[];
    /** Whether nodes span several zones (`topology.kubernetes.io/zone`), so pods spread across them. */
    readonly hasZones: boolean;
    /** Whether metrics-server must skip kubelet certificate checks (kind's self-signed kubelets). */
    readonly kubeletInsecureTls: boolean;
    /** Registry for built images; undefined when the cluster has none (then only prebuilt images work). */
    readonly registry?: ImageRegistry;
    /**
     * Resources workloads must wait for that data flow does not already imply (nodes, the
     * load-balancer controller's webhook).
     */
    readonly workloadDependencies: pulumi.Resource[];
    /** What a user needs to know about this flavour's cluster, exported as the `cluster` stack output (no secrets). */
    readonly details: Record<string, pulumi.Input<string | string[]>>;
}

/** Build the cluster of the configured flavour. */
export function createCluster(settings: Settings, opts?: pulumi.ComponentResourceOptions): KubeCluster {
    const name = `${settings.project}-${settings.stack}`;
    switch (settings.cluster.flavour) {
        case "existing":
            return new ExistingCluster(name, { settings }, opts);
        case "kind":
            return new KindCluster(name, { settings }, opts);
        case "eks":
            return new EksCluster(name, { settings }, opts);
    }
}
