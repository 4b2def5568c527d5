/**
 * Cluster add-ons every flavour needs, and the namespace the services live in.
 *
 * - metrics-server (official Helm chart, pinned), so every HPA has CPU and memory metrics;
 *   on kind it skips kubelet certificate checks (kind's kubelets serve self-signed certificates).
 * - the services' namespace, enforcing the `restricted` Pod Security Standard.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HELM_RELEASE_OPTIONS } from "./helm";

/**
 * metrics-server chart, pinned: https://kubernetes-sigs.github.io/metrics-server/. Chart 3.13.1
 * deploys metrics-server v0.8.1 (its appVersion), which supports Kubernetes 1.31 and later.
 */
export const METRICS_SERVER_CHART = { chart: "metrics-server", version: "3.13.1", repo: "https://kubernetes-sigs.github.io/metrics-server/" };

export interface PlatformArgs {
    /** Namespace to create for the services. */
    namespace: string;
    /** Pass `--kubelet-insecure-tls` to metrics-server (kind only). Default false. */
    kubeletInsecureTls?: boolean;
    /** Labels for the namespace, on top of the Pod Security ones. Default none. */
    labels?: Record<string, string>;
}

/** Helm values for metrics-server. */
export function metricsServerValues(kubeletInsecureTls: boolean): Record<string, unknown> {
    return {
        args: kubeletInsecureTls ? ["--kubelet-insecure-tls"] : [],
        // Two replicas and a PDB: HPAs go blind while metrics-server is down.
        replicas: 2,
        podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
    };
}

/** Namespace and add-ons, created with the provider given in `opts.providers`. */
export class Platform extends pulumi.ComponentResource {
    /** Name of the services' namespace (resolves once it exists). */
    readonly namespace: pulumi.Output<string>;
    /** The metrics-server release. */
    readonly metricsServer: k8s.helm.v3.Release;

    constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:platform:Platform", name, {}, opts);
        const ns = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: {
                name: args.namespace,
                labels: {
                    ...args.labels,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
        }, { parent: this });
        this.namespace = ns.metadata.name;

        this.metricsServer = new k8s.helm.v3.Release(`${name}-metrics-server`, {
            name: "metrics-server",
            namespace: "kube-system",
            chart: METRICS_SERVER_CHART.chart,
            version: METRICS_SERVER_CHART.version,
            repositoryOpts: { repo: METRICS_SERVER_CHART.repo },
            values: metricsServerValues(args.kubeletInsecureTls ?? false),
            ...HELM_RELEASE_OPTIONS,
        // A component's dependsOn does not reach its children: metrics-server needs nodes to run on.
        }, { parent: this, dependsOn: opts?.dependsOn });

        this.registerOutputs({ namespace: this.namespace });
    }
}
