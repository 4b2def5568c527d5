/**
 * The cluster interface every flavour implements (`existing`, `kind`, `eks`) and the types it
 * shares with the rest of the program. Everything downstream (platform, images, services) only
 * sees {@link KubeCluster}, so the three services deploy unchanged to any flavour. This module
 * imports no flavour; the factory in ./index.ts picks one.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

/** The cluster flavours, as `kubeforge:cluster.flavour` names them. */
export const CLUSTER_FLAVOURS = ["kind", "eks", "existing"] as const;

/** `kind` (local), `eks` (AWS) or `existing` (whatever a kubeconfig points at). */
export type ClusterFlavour = (typeof CLUSTER_FLAVOURS)[number];

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

/** How far a service's own load balancer reaches: the internet, or only the cluster's network. */
export type LoadBalancerScope = "public" | "internal";

/** What a Service of type LoadBalancer needs on a cluster. */
export interface LoadBalancerSpec {
    /** Annotations of the Service (may be empty). */
    annotations: pulumi.Input<Record<string, string>>;
    /**
     * CIDRs the load balancer's traffic (health checks included) reaches the pods from; the
     * service's NetworkPolicy admits these on the container port.
     */
    sourceRanges: pulumi.Input<string>[];
    /** Listener port, when the cluster decides it (443 where it terminates TLS; kind: the service's own host port); otherwise the service's `servicePort`. */
    port?: number;
    /**
     * Host this machine reaches the load balancer at, when not its address (kind with
     * load-balancer ports published on the host: `localhost`); the `url` output uses it. Default:
     * the load balancer's address.
     */
    urlHost?: string;
    /**
     * Whether a change of the listener port must recreate the Service rather than update it
     * (cloud-provider-kind publishes ports only when it creates a load balancer). Default false.
     */
    recreateOnPortChange?: boolean;
    /**
     * Whether the load-balancer implementation gates each pod's readiness on the health of its
     * target, which it can only do for pods created after it registered the Service (EKS: the
     * load-balancer controller's pod webhook injects a readiness gate only for the
     * TargetGroupBindings that exist when the pod is created). The Deployment is then created
     * after the Service. Default false.
     */
    gatesPodReadiness?: boolean;
    /**
     * `spec.loadBalancerClass` of the Service, naming the load-balancer implementation that must
     * reconcile it (EKS: the AWS Load Balancer Controller's `service.k8s.aws/nlb`); immutable
     * once set. Default none: the cluster's default implementation.
     */
    loadBalancerClass?: string;
}

/**
 * A Redis-protocol store the cluster's cloud runs as a managed service (ElastiCache for Valkey on
 * EKS), sized by the stack config.
 */
export interface ManagedStoreArgs {
    /** Node (instance) type, e.g. `cache.t4g.small`. */
    nodeType: string;
    /** Nodes: one primary and `nodes - 1` replicas in other zones; two or more fail over automatically. */
    nodes: number;
    /** Engine version, major.minor (e.g. `9.0`). */
    engineVersion: string;
    /** Days automatic daily snapshots are kept; 0 takes none. */
    snapshotRetentionDays: number;
    /** The password clients authenticate with (a secret). */
    password: pulumi.Input<string>;
}

/** How a store's clients reach it. */
export interface StoreEndpoint {
    /** `redis://` or `rediss://` URL of the store, without credentials. */
    url: pulumi.Output<string>;
    /** What the clients' NetworkPolicy must admit to reach it (peers and port), and nothing more. */
    egress: k8s.types.input.networking.v1.NetworkPolicyEgressRule;
}

/** Secrets of a namespace that the principal CI previews and drift checks run as must be able to read back. */
export interface PreviewReadArgs {
    /** Their namespace. */
    namespace: pulumi.Input<string>;
    /** Their names. */
    secrets: readonly string[];
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
    /** The load balancer of service `service`, of this scope, health-checked on `healthPath` (its readiness path). */
    loadBalancer(scope: LoadBalancerScope, healthPath: string, service: string): LoadBalancerSpec;
    /**
     * Seconds a terminating pod keeps serving (its preStop pause) so load balancers stop sending
     * it new connections first: a few on kind, longer behind a cloud load balancer.
     */
    readonly drainSeconds: number;
    /** Labels the services' namespace needs on this cluster (EKS: pod readiness gates for load-balancer targets). */
    readonly namespaceLabels: Record<string, string>;
    /** Whether nodes span several zones (`topology.kubernetes.io/zone`), so pods spread across them. */
    readonly hasZones: boolean;
    /** Whether metrics-server must skip kubelet certificate checks (kind's self-signed kubelets). */
    readonly kubeletInsecureTls: boolean;
    /** Registry for built images; undefined when the cluster has none (then only prebuilt images work). */
    readonly registry?: ImageRegistry;
    /**
     * Resources workloads must wait for that data flow does not already imply (nodes, the
     * load-balancer controller, whose pod webhook adds NLB readiness gates to new pods).
     */
    readonly workloadDependencies: pulumi.Resource[];
    /** What a user needs to know about this flavour's cluster, exported as the `cluster` stack output (no secrets). */
    readonly details: Record<string, pulumi.Input<string | string[]>>;
    /**
     * Creates the managed store of this cluster's cloud, as children of `opts.parent`, reachable
     * from the cluster's pods and nothing else; undefined on flavours whose cloud offers none.
     */
    managedStore?(name: string, args: ManagedStoreArgs, opts: pulumi.ComponentResourceOptions): StoreEndpoint;
    /**
     * Lets the principal CI previews and drift checks run as read back, by name, Secrets the
     * program declares: `pulumi preview --refresh` reads every declared object, and a view-only
     * principal reads no Secret (EKS: `AmazonEKSViewPolicy`). Children of `opts.parent`; nothing
     * where no such principal is configured. Undefined on flavours that have none.
     */
    grantPreviewRead?(name: string, args: PreviewReadArgs, opts: pulumi.ComponentResourceOptions): void;
}
