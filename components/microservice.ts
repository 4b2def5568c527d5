/**
 * One microservice on Kubernetes: ServiceAccount, Deployment, Services, HorizontalPodAutoscaler,
 * PodDisruptionBudget and NetworkPolicies, all derived from validated {@link ServiceSettings};
 * for a service that keeps state, the store's credentials and an egress rule to it.
 *
 * The component knows nothing about the cluster flavour: the cluster supplies what a load
 * balancer needs (annotations, the CIDRs its traffic comes from), how long a terminating pod must
 * keep serving, and whether nodes span zones.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubeCluster } from "./cluster/types";
import type { ServiceSettings } from "./config";

/** UID/GID the containers run as; the service images are built for it. */
const RUN_AS_ID = 10001;
/**
 * Seconds a service gets after SIGTERM (its preStop pause is over by then) to finish in-flight
 * requests and exit; the services' own drain timeout stays well inside it.
 */
const SHUTDOWN_SECONDS = 30;

/** A service this one may call, as the caller sees it. */
export interface Upstream {
    /** Service name, e.g. `messages`. */
    name: string;
    /**
     * Container port the upstream's pods listen on: its in-cluster Service uses the same port
     * (a NetworkPolicy egress rule to pods then matches what the caller dials; the EKS VPC CNI
     * requires it) and its NetworkPolicy admits it.
     */
    port: number;
}

/** What a service that keeps its state in the store gets (see components/store/store.ts). */
export interface StoreAccess {
    /** Secret with the store's `url` and `password`: `STORE_URL` and `STORE_PASSWORD` come from it by `secretKeyRef`, never as plain values. */
    readonly credentialsSecret: pulumi.Input<string>;
    /** The NetworkPolicy egress rule that reaches the store (and nothing else). */
    readonly egress: k8s.types.input.networking.v1.NetworkPolicyEgressRule;
}

/** The cluster traits a service depends on. */
export type ClusterTraits = Pick<KubeCluster, "loadBalancer" | "drainSeconds" | "hasZones">;

export interface MicroserviceArgs {
    /** Validated settings of this service (name, port, replicas, resources, callers, env, ...). */
    service: ServiceSettings;
    /** Namespace the objects are created in. */
    namespace: pulumi.Input<string>;
    /** Stack name; part of the `app.kubernetes.io/instance` label. */
    stack: string;
    /** Fully resolved image reference the Deployment runs (a digest reference when built). */
    image: pulumi.Input<string>;
    /** Services this one may call: they become `<NAME>_URL` environment variables and egress rules. Default none. */
    upstreams?: Upstream[];
    /** The cluster: its load balancers, the drain time of a terminating pod, whether nodes span zones. */
    cluster: ClusterTraits;
    /** The store, for a service with `store: true`: its credentials as `STORE_URL`/`STORE_PASSWORD` and an egress rule to it. Default none. */
    store?: StoreAccess;
}

/**
 * The recommended `app.kubernetes.io/*` labels of an object of the program: `name` and `instance`
 * identify it, `component` says what part it is; `part-of` and `managed-by` are the same for all.
 */
export function kubeforgeLabels(name: string, instance: string, component: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "kubeforge",
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/**
 * The labels every object of a service carries ({@link selectorLabels} and the rest of
 * {@link kubeforgeLabels}); `component` defaults to `microservice` (the store passes `store`).
 */
export function recommendedLabels(service: string, stack: string, component = "microservice"): Record<string, string> {
    return kubeforgeLabels(service, `${service}-${stack}`, component);
}

/** The stable subset of {@link recommendedLabels} used in selectors (a Deployment's selector is immutable). */
export function selectorLabels(service: string, stack: string): Record<string, string> {
    return { "app.kubernetes.io/name": service, "app.kubernetes.io/instance": `${service}-${stack}` };
}

/** Environment variable holding an upstream's URL: `messages` -> `MESSAGES_URL`. */
export function upstreamEnvName(service: string): string {
    return `${service.toUpperCase().replace(/-/g, "_")}_URL`;
}

/** In-cluster URL of a service's (ClusterIP) Service. */
export function serviceUrl(service: string, namespace: string, port: number): string {
    return `http://${service}.${namespace}.svc.cluster.local:${port}`;
}

/** Startup, liveness and readiness probes: different paths or timings, all on the named `http` port. */
export function probes(service: ServiceSettings): Pick<k8s.types.input.core.v1.Container, "startupProbe" | "livenessProbe" | "readinessProbe"> {
    const get = (path: string) => ({ httpGet: { path, port: "http" } });
    return {
        // Up to 60 s to start; liveness only begins after it succeeds.
        startupProbe: { ...get(service.health.liveness), periodSeconds: 2, failureThreshold: 30, timeoutSeconds: 2 },
        // Restart a wedged process, slowly: three misses 10 s apart.
        livenessProbe: { ...get(service.health.liveness), periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
        // Take a pod out of rotation fast (starting, draining or overloaded), back in on one success.
        readinessProbe: { ...get(service.health.readiness), periodSeconds: 5, failureThreshold: 2, successThreshold: 1, timeoutSeconds: 2 },
    };
}

/** HPA scaling behaviour: scale up at once (double or +4 pods per 15 s), scale down after 5 stable minutes, by half at most per minute. */
export function hpaBehavior(): k8s.types.input.autoscaling.v2.HorizontalPodAutoscalerBehavior {
    return {
        scaleUp: {
            stabilizationWindowSeconds: 0,
            selectPolicy: "Max",
            policies: [
                { type: "Percent", value: 100, periodSeconds: 15 },
                { type: "Pods", value: 4, periodSeconds: 15 },
            ],
        },
        scaleDown: {
            stabilizationWindowSeconds: 300,
            selectPolicy: "Min",
            policies: [{ type: "Percent", value: 50, periodSeconds: 60 }],
        },
    };
}

/** Spread pods across nodes (soft) and, where the cluster has zones, across zones (hard). */
export function topologySpread(labels: Record<string, string>, zones: boolean): k8s.types.input.core.v1.TopologySpreadConstraint[] {
    const hostname = {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: labels },
    };
    if (!zones) return [hostname];
    return [
        {
            maxSkew: 1,
            topologyKey: "topology.kubernetes.io/zone",
            whenUnsatisfiable: "DoNotSchedule",
            // Count only zones where this pod could actually run.
            nodeAffinityPolicy: "Honor",
            nodeTaintsPolicy: "Honor",
            labelSelector: { matchLabels: labels },
        },
        hostname,
    ];
}

/** A Kubernetes workload for one service, autoscaled on its own metrics. */
export class Microservice extends pulumi.ComponentResource {
    /** Name of the Deployment, ClusterIP Service and HPA (the service's name). */
    readonly name: string;
    /** Namespace the objects live in. */
    readonly namespace: pulumi.Output<string>;
    /** The Deployment. */
    readonly deployment: k8s.apps.v1.Deployment;
    /** The in-cluster Service (ClusterIP, on the container port): what other services call. */
    readonly service: k8s.core.v1.Service;
    /** The service's own load balancer (a Service of type LoadBalancer), unless `loadBalancer` is `none`. */
    readonly loadBalancerService?: k8s.core.v1.Service;
    /** The HorizontalPodAutoscaler targeting only this Deployment. */
    readonly hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler;
    /** Load-balancer address (hostname or IP); empty without a load balancer. */
    readonly address: pulumi.Output<string>;
    /** URL of the load balancer (`http://address:port`, `https://` on 443; the cluster's `urlHost` instead of the address where it gives one); empty without one. */
    readonly url: pulumi.Output<string>;

    constructor(name: string, args: MicroserviceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:microservice:Microservice", name, {}, opts);
        const svc = args.service;
        if (svc.store && !args.store) throw new Error(`${name}: the service keeps its state in the store (store: true) but was given none`);
        // A component's dependsOn does not reach its children; the workloads are what must wait.
        const child = { parent: this, dependsOn: opts?.dependsOn };
        const { cluster } = args;
        const lb = svc.loadBalancer === "none" ? undefined : cluster.loadBalancer(svc.loadBalancer, svc.health.readiness, svc.name);
        this.name = svc.name;
        this.namespace = pulumi.output(args.namespace);

        const labels = recommendedLabels(svc.name, args.stack);
        const selector = selectorLabels(svc.name, args.stack);
        const metadata = { name: svc.name, namespace: args.namespace, labels };
        const upstreams = args.upstreams ?? [];

        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, {
            metadata,
            // The services never talk to the Kubernetes API.
            automountServiceAccountToken: false,
        }, child);

        const env = [
            ...Object.entries(svc.env).map(([envName, value]) => ({ name: envName, value })),
            ...upstreams.map((u) => ({
                name: upstreamEnvName(u.name),
                value: pulumi.output(args.namespace).apply((ns) => serviceUrl(u.name, ns, u.port)),
            })),
            ...(args.store ? [
                { name: "STORE_URL", valueFrom: { secretKeyRef: { name: args.store.credentialsSecret, key: "url" } } },
                { name: "STORE_PASSWORD", valueFrom: { secretKeyRef: { name: args.store.credentialsSecret, key: "password" } } },
            ] : []),
            { name: "PORT", value: String(svc.port) },
            { name: "METRICS_PORT", value: String(svc.metricsPort) },
        ];

        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata,
            spec: {
                type: "ClusterIP",
                selector,
                ports: [{ name: "http", port: svc.port, targetPort: "http", protocol: "TCP" }],
            },
        }, child);

        if (lb) {
            const port = lb.port ?? svc.servicePort;
            this.loadBalancerService = new k8s.core.v1.Service(`${name}-lb`, {
                metadata: { ...metadata, name: `${svc.name}-${svc.loadBalancer}`, annotations: lb.annotations },
                spec: {
                    type: "LoadBalancer",
                    ...(lb.loadBalancerClass ? { loadBalancerClass: lb.loadBalancerClass } : {}),
                    selector,
                    ports: [{ name: port === 443 ? "https" : "http", port, targetPort: "http", protocol: "TCP" }],
                },
            }, lb.recreateOnPortChange ? { ...child, replaceOnChanges: ["spec.ports"], deleteBeforeReplace: true } : child);
        }

        // Where the load balancer gates pod readiness on target health, its Service comes first
        // (see LoadBalancerSpec.gatesPodReadiness); Pulumi gathers a nested dependsOn list
        // recursively (@pulumi/pulumi runtime/dependsOn.js gatherExplicitDependencies).
        const afterLoadBalancer = lb?.gatesPodReadiness && this.loadBalancerService
            ? { ...child, dependsOn: [child.dependsOn, this.loadBalancerService] as pulumi.Input<pulumi.Resource>[] }
            : child;
        this.deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata,
            spec: {
                // No `replicas`: the HPA owns the count, so an update never resets a scaled-out service.
                selector: { matchLabels: selector },
                strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
                minReadySeconds: 5,
                progressDeadlineSeconds: 300,
                revisionHistoryLimit: 10,
                template: {
                    metadata: { labels },
                    spec: {
                        serviceAccountName: serviceAccount.metadata.name,
                        automountServiceAccountToken: false,
                        terminationGracePeriodSeconds: cluster.drainSeconds + SHUTDOWN_SECONDS,
                        securityContext: {
                            runAsNonRoot: true,
                            runAsUser: RUN_AS_ID,
                            runAsGroup: RUN_AS_ID,
                            fsGroup: RUN_AS_ID,
                            seccompProfile: { type: "RuntimeDefault" },
                        },
                        topologySpreadConstraints: topologySpread(selector, cluster.hasZones),
                        containers: [{
                            name: svc.name,
                            image: args.image,
                            imagePullPolicy: "IfNotPresent",
                            ports: [
                                { name: "http", containerPort: svc.port, protocol: "TCP" },
                                // Prometheus text, kept off the load balancer (no Service exposes it).
                                { name: "metrics", containerPort: svc.metricsPort, protocol: "TCP" },
                            ],
                            env,
                            resources: {
                                requests: { ...svc.resources.requests },
                                limits: { ...svc.resources.limits },
                            },
                            ...probes(svc),
                            // Keep serving until load balancers have stopped sending new connections.
                            lifecycle: { preStop: { sleep: { seconds: cluster.drainSeconds } } },
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                readOnlyRootFilesystem: true,
                                runAsNonRoot: true,
                                capabilities: { drop: ["ALL"] },
                            },
                            volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                        }],
                        volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
                    },
                },
            },
        }, afterLoadBalancer);

        this.hpa = new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-hpa`, {
            metadata,
            spec: {
                scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: this.deployment.metadata.name },
                minReplicas: svc.replicas.min,
                maxReplicas: svc.replicas.max,
                metrics: [
                    { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: svc.autoscaling.cpuUtilization } } },
                    { type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: svc.autoscaling.memoryUtilization } } },
                ],
                behavior: hpaBehavior(),
            },
        }, child);

        new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
            metadata,
            // One pod at a time: with one replica a drain may evict it (never blocks node
            // maintenance); with two or more, at least one always stays up.
            spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
        }, child);

        new k8s.networking.v1.NetworkPolicy(`${name}-default-deny`, {
            metadata: { ...metadata, name: `${svc.name}-default-deny` },
            spec: { podSelector: { matchLabels: selector }, policyTypes: ["Ingress", "Egress"] },
        }, child);

        new k8s.networking.v1.NetworkPolicy(`${name}-allow`, {
            metadata: { ...metadata, name: `${svc.name}-allow` },
            spec: {
                podSelector: { matchLabels: selector },
                policyTypes: ["Ingress", "Egress"],
                ingress: [
                    ...(lb ? [{
                        from: lb.sourceRanges.map((cidr) => ({ ipBlock: { cidr } })),
                        ports: [{ protocol: "TCP", port: svc.port }],
                    }] : []),
                    ...(svc.callers.length > 0 ? [{
                        from: svc.callers.map((caller) => ({ podSelector: { matchLabels: selectorLabels(caller, args.stack) } })),
                        ports: [{ protocol: "TCP", port: svc.port }],
                    }] : []),
                ],
                egress: [
                    {
                        to: [{
                            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
                        }],
                        ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
                    },
                    ...upstreams.map((u) => ({
                        to: [{ podSelector: { matchLabels: selectorLabels(u.name, args.stack) } }],
                        ports: [{ protocol: "TCP", port: u.port }],
                    })),
                    ...(args.store ? [args.store.egress] : []),
                ],
            },
        }, child);

        const ingress = this.loadBalancerService?.status.apply((st) => st?.loadBalancer?.ingress?.[0]);
        this.address = ingress?.apply((ing) => ing?.hostname ?? ing?.ip ?? "") ?? pulumi.output("");
        const lbPort = lb?.port ?? svc.servicePort;
        this.url = this.address.apply((a) => {
            if (a === "") return "";
            const host = lb?.urlHost ?? a;
            return lbPort === 443 ? `https://${host}` : `http://${host}${lbPort === 80 ? "" : `:${lbPort}`}`;
        });

        this.registerOutputs({ name: this.name, namespace: this.namespace, address: this.address, url: this.url });
    }
}
