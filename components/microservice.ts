/**
 * One microservice on Kubernetes: ServiceAccount, Deployment, Service, HorizontalPodAutoscaler,
 * PodDisruptionBudget and NetworkPolicies, all derived from validated {@link ServiceSettings}.
 *
 * The component knows nothing about the cluster flavour: the cluster supplies load-balancer
 * annotations, the CIDRs load-balancer traffic comes from, and whether nodes span zones.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSettings } from "./config";

/** UID/GID the containers run as; the service images are built for it. */
export const RUN_AS_ID = 10001;
/** Seconds the pod keeps serving after it is marked for termination, so load balancers drain it. */
export const PRE_STOP_SLEEP_SECONDS = 5;
/** Grace period: preStop pause plus the service's own drain, with margin. */
export const TERMINATION_GRACE_SECONDS = 30;

/** A service this one may call, as the caller sees it. */
export interface Upstream {
    /** Service name, e.g. `messages`. */
    name: string;
    /** Container port the upstream's pods listen on (its NetworkPolicy admits this port). */
    port: number;
    /** Port of the upstream's Service (the in-cluster URL uses it). */
    servicePort: number;
}

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
    /** Annotations a public LoadBalancer Service needs on this cluster. Default none. */
    loadBalancerAnnotations?: Record<string, string>;
    /** CIDRs load-balancer traffic reaches the pods from; admitted on the service port when public. Default `0.0.0.0/0`. */
    loadBalancerSourceRanges?: pulumi.Input<string>[];
    /** Whether nodes span zones; adds a zone spread constraint. Default false. */
    zoneSpread?: boolean;
}

/** The `app.kubernetes.io/*` labels every object of a service carries. */
export function recommendedLabels(service: string, stack: string): Record<string, string> {
    return {
        ...selectorLabels(service, stack),
        "app.kubernetes.io/component": "microservice",
        "app.kubernetes.io/part-of": "kubeforge",
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/** The stable subset used in selectors (a Deployment's selector is immutable). */
export function selectorLabels(service: string, stack: string): Record<string, string> {
    return { "app.kubernetes.io/name": service, "app.kubernetes.io/instance": `${service}-${stack}` };
}

/** Environment variable holding an upstream's URL: `messages` -> `MESSAGES_URL`. */
export function upstreamEnvName(service: string): string {
    return `${service.toUpperCase().replace(/-/g, "_")}_URL`;
}

/** In-cluster URL of a service's Service. */
export function serviceUrl(service: string, namespace: string, servicePort: number): string {
    return `http://${service}.${namespace}.svc.cluster.local:${servicePort}`;
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
    /** Name of the Deployment, Service and HPA (the service's name). */
    readonly name: string;
    /** Namespace the objects live in. */
    readonly namespace: pulumi.Output<string>;
    /** The Deployment. */
    readonly deployment: k8s.apps.v1.Deployment;
    /** The Service (LoadBalancer when public, ClusterIP otherwise). */
    readonly service: k8s.core.v1.Service;
    /** The HorizontalPodAutoscaler targeting only this Deployment. */
    readonly hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler;
    /** Load-balancer address (hostname or IP); empty for internal services. */
    readonly address: pulumi.Output<string>;

    constructor(name: string, args: MicroserviceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:microservice:Microservice", name, {}, opts);
        const svc = args.service;
        const child = { parent: this };
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
                value: pulumi.output(args.namespace).apply((ns) => serviceUrl(u.name, ns, u.servicePort)),
            })),
            { name: "PORT", value: String(svc.port) },
        ];

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
                        terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
                        securityContext: {
                            runAsNonRoot: true,
                            runAsUser: RUN_AS_ID,
                            runAsGroup: RUN_AS_ID,
                            fsGroup: RUN_AS_ID,
                            seccompProfile: { type: "RuntimeDefault" },
                        },
                        topologySpreadConstraints: topologySpread(selector, args.zoneSpread ?? false),
                        containers: [{
                            name: svc.name,
                            image: args.image,
                            imagePullPolicy: "IfNotPresent",
                            ports: [{ name: "http", containerPort: svc.port, protocol: "TCP" }],
                            env,
                            resources: {
                                requests: { ...svc.resources.requests },
                                limits: { ...svc.resources.limits },
                            },
                            ...probes(svc),
                            lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
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
        }, child);

        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: { ...metadata, annotations: svc.public ? args.loadBalancerAnnotations ?? {} : {} },
            spec: {
                type: svc.public ? "LoadBalancer" : "ClusterIP",
                selector,
                ports: [{ name: "http", port: svc.servicePort, targetPort: "http", protocol: "TCP" }],
            },
        }, child);

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
                    ...(svc.public ? [{
                        from: (args.loadBalancerSourceRanges ?? ["0.0.0.0/0"]).map((cidr) => ({ ipBlock: { cidr } })),
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
                ],
            },
        }, child);

        this.address = svc.public
            ? this.service.status.apply((s) => s?.loadBalancer?.ingress?.[0]?.hostname ?? s?.loadBalancer?.ingress?.[0]?.ip ?? "")
            : pulumi.output("");

        this.registerOutputs({ name: this.name, namespace: this.namespace, address: this.address });
    }
}
