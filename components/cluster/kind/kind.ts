/**
 * Cluster flavour `kind`: a local Kubernetes cluster in Docker containers, with
 * - a local image registry (`registry` container on 127.0.0.1:<port>, on the `kind` network,
 *   announced to containerd through `certs.d/<host>/hosts.toml` and to tools through the
 *   `local-registry-hosting` ConfigMap of KEP-1755), as kind's local-registry guide sets it up:
 *   https://kind.sigs.k8s.io/docs/user/local-registry/
 * - load balancers from cloud-provider-kind (the approach kind's docs recommend), run as a
 *   container with the Docker socket, so every Service of type LoadBalancer gets an address.
 *
 * The cluster itself is created and deleted with the `kind` CLI through a `local.Command`; its
 * kubeconfig is the command's (secret) stdout. Changing the node count, node image or registry port
 * replaces the cluster (kind cannot change a running cluster's nodes).
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "node:path";
import { stringify } from "yaml";
import type { Settings } from "../../config";
import type { KindSettings } from "./config";
import { kindPreflight, systemRunner } from "../../prerequisites";
import { runningUnderMocks } from "../../runtime";
import type { ImageRegistry, KubeCluster, LoadBalancerSpec } from "../types";

/** Local registry image (CNCF distribution), pinned: https://hub.docker.com/_/registry */
export const REGISTRY_IMAGE = "registry:2.8.3";

/**
 * cloud-provider-kind v0.11.1, pinned by tag and by the digest its promotion to registry.k8s.io
 * recorded (https://github.com/kubernetes/k8s.io/pull/9657).
 */
export const CLOUD_PROVIDER_KIND_IMAGE =
    "registry.k8s.io/cloud-provider-kind/cloud-controller-manager:v0.11.1@sha256:40e18b9cd9c798cce40d39ff5c099a4f16a36c268d8e1dda469d73955a35e403";

/** Docker network kind puts its nodes on (created by the first `kind create cluster`). */
export const KIND_NETWORK = "kind";

/** Where containerd looks for registry hosts config inside a node. */
export const CONTAINERD_CERTS_DIR = "/etc/containerd/certs.d";

/** kind cluster name for a project and stack: lower-case letters, digits and `-`. */
export function kindClusterName(project: string, stack: string): string {
    return `${project}-${stack}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
}

/** containerd `hosts.toml` sending pulls of `localhost:<port>/...` to the registry container. */
export function registryHostsToml(registryContainer: string): string {
    return `[host."http://${registryContainer}:5000"]\n`;
}

/** Inputs of the generated kind config. */
export interface KindConfigInput {
    /** Worker nodes besides the one control-plane node. */
    workers: number;
    /** `kindest/node` image of every node. */
    nodeImage: string;
    /** Host directory (absolute) holding `<registry host>/hosts.toml`, mounted at {@link CONTAINERD_CERTS_DIR}. */
    certsDir: string;
}

/** kind `v1alpha4` cluster config: one control plane, N workers, containerd reading `certs.d`. */
export function kindClusterConfig(input: KindConfigInput): Record<string, unknown> {
    const node = (role: "control-plane" | "worker") => ({
        role,
        image: input.nodeImage,
        extraMounts: [{ hostPath: input.certsDir, containerPath: CONTAINERD_CERTS_DIR, readOnly: true }],
    });
    return {
        kind: "Cluster",
        apiVersion: "kind.x-k8s.io/v1alpha4",
        // Node images of kind v0.27+ already read certs.d; the patch keeps older images working,
        // exactly as kind's local-registry guide does.
        containerdConfigPatches: [`[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${CONTAINERD_CERTS_DIR}"`],
        nodes: [node("control-plane"), ...Array.from({ length: input.workers }, () => node("worker"))],
    };
}

/**
 * cloud-provider-kind's container command (its image's entrypoint is the binary, so only flags):
 * publish load-balancer ports on the host where the kind network is unreachable; none otherwise.
 */
export function cloudProviderKindCommand(lbPortMapping: boolean): string[] | undefined {
    return lbPortMapping ? ["--enable-lb-port-mapping"] : undefined;
}

export interface KindClusterArgs {
    /** Validated settings; reads `project`, `stack` and `cluster.kind` (workers, nodeImage, registryPort, lbPortMapping). */
    settings: Settings;
    /**
     * Checks run before any child is created; each returned line is a problem with its fix, and
     * any problem fails the program with them. Default: {@link kindPreflight} over the real PATH
     * (kind installed and recent enough, Docker daemon reachable), skipped only under Pulumi mocks,
     * where nothing is created; so `pulumi preview` fails early too.
     */
    preflight?: () => string[];
    /** Project root, under which `.kubeforge/<stack>/certs.d` is written. Default: the working directory (the project root under `pulumi`). */
    root?: string;
    /** Host OS (`process.platform` values); decides the default of `lbPortMapping`. Default: this machine's. */
    hostPlatform?: NodeJS.Platform;
}

/** A kind cluster with a local registry and load balancers, implementing {@link KubeCluster}. */
export class KindCluster extends pulumi.ComponentResource implements KubeCluster {
    readonly flavour = "kind" as const;
    readonly provider: k8s.Provider;
    readonly kubeconfig: pulumi.Output<string>;
    readonly clusterName: pulumi.Output<string>;
    /** cloud-provider-kind's envoy drops an endpoint within a second or two of the pod going unready. */
    readonly drainSeconds = 5;
    readonly namespaceLabels: Record<string, string> = {};
    readonly hasZones = false;
    /** kind's kubelets serve self-signed certificates. */
    readonly kubeletInsecureTls = true;
    readonly registry: ImageRegistry;
    readonly workloadDependencies: pulumi.Resource[];
    readonly details: Record<string, pulumi.Input<string>>;
    /** The `kind create cluster` command. */
    readonly cluster: command.local.Command;

    constructor(name: string, args: KindClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:cluster:KindCluster", name, {}, opts);
        const { project, stack } = args.settings;
        const kind: KindSettings = args.settings.cluster.kind;

        const preflight = args.preflight ?? (runningUnderMocks() ? undefined : () => kindPreflight(systemRunner()));
        const problems = preflight?.() ?? [];
        if (problems.length > 0) throw new pulumi.RunError(problems.join("\n"));

        const clusterName = kindClusterName(project, stack);
        const registryContainer = `${clusterName}-registry`;
        const registryHost = `localhost:${kind.registryPort}`;
        const certsDir = resolve(args.root ?? process.cwd(), ".kubeforge", stack, "certs.d");
        const config = stringify(kindClusterConfig({ workers: kind.workers, nodeImage: kind.nodeImage, certsDir }));

        this.cluster = new command.local.Command(`${name}-cluster`, {
            interpreter: ["/bin/sh", "-c"],
            // kind's progress goes to stderr (logged); stdout is the kubeconfig (secret, not logged).
            create: [
                "set -e",
                `mkdir -p "$CERTS_DIR/$REGISTRY_HOST"`,
                `printf '%s' "$HOSTS_TOML" > "$CERTS_DIR/$REGISTRY_HOST/hosts.toml"`,
                `kind create cluster --name "$CLUSTER" --config - --wait 120s 1>&2`,
                `kind get kubeconfig --name "$CLUSTER"`,
            ].join("\n"),
            delete: `kind delete cluster --name "$CLUSTER" && rm -rf "$CERTS_DIR"`,
            stdin: config,
            environment: {
                CLUSTER: clusterName,
                CERTS_DIR: certsDir,
                REGISTRY_HOST: registryHost,
                HOSTS_TOML: registryHostsToml(registryContainer),
            },
            logging: command.types.enums.local.Logging.Stderr,
            triggers: [kind.workers, kind.nodeImage, kind.registryPort],
        }, {
            parent: this,
            additionalSecretOutputs: ["stdout"],
            // kind cannot change a running cluster's nodes; the name is fixed, so the old cluster goes first.
            replaceOnChanges: ["triggers", "stdin", "environment"],
            deleteBeforeReplace: true,
        });

        this.kubeconfig = this.cluster.stdout;
        this.clusterName = this.cluster.id.apply(() => clusterName);
        this.provider = new k8s.Provider(`${name}-k8s`, {
            kubeconfig: this.kubeconfig,
            // After `kind delete cluster` outside Pulumi, let `pulumi up`/`destroy` drop what was in it.
            deleteUnreachable: true,
        }, { parent: this });

        const registryImage = new docker.RemoteImage(`${name}-registry-image`, { name: REGISTRY_IMAGE, keepLocally: true }, { parent: this });
        const registryData = new docker.Volume(`${name}-registry-data`, { name: `${registryContainer}-data` }, { parent: this });
        const registry = new docker.Container(`${name}-registry`, {
            name: registryContainer,
            image: registryImage.imageId,
            restart: "unless-stopped",
            ports: [{ internal: 5000, external: kind.registryPort, ip: "127.0.0.1" }],
            networksAdvanced: [{ name: KIND_NETWORK }],
            // Pushed images survive a replaced container: Deployments keep pulling their digests.
            volumes: [{ volumeName: registryData.name, containerPath: "/var/lib/registry" }],
            // It joins the `kind` network, which exists once kind has created a cluster: an
            // ordering the data flow does not carry (likewise for cloud-provider-kind below).
        }, { parent: this, dependsOn: [this.cluster] });
        // Pushing needs the registry running: the repository carries that dependency.
        this.registry = { repository: (service) => registry.name.apply(() => `${registryHost}/${service}`) };

        new k8s.core.v1.ConfigMap(`${name}-local-registry-hosting`, {
            metadata: {
                name: "local-registry-hosting",
                namespace: "kube-public",
                labels: {
                    "app.kubernetes.io/name": "local-registry-hosting",
                    "app.kubernetes.io/instance": clusterName,
                    "app.kubernetes.io/component": "registry",
                    "app.kubernetes.io/part-of": "kubeforge",
                    "app.kubernetes.io/managed-by": "pulumi",
                },
            },
            data: {
                "localRegistryHosting.v1": stringify({ host: registryHost, help: "https://kind.sigs.k8s.io/docs/user/local-registry/" }),
            },
        }, { parent: this, provider: this.provider });

        const lbPortMapping = kind.lbPortMapping ?? (args.hostPlatform ?? process.platform) !== "linux";
        const cpkImage = new docker.RemoteImage(`${name}-cloud-provider-kind-image`, { name: CLOUD_PROVIDER_KIND_IMAGE, keepLocally: true }, { parent: this });
        const cloudProvider = new docker.Container(`${name}-cloud-provider-kind`, {
            name: `${clusterName}-cloud-provider-kind`,
            image: cpkImage.imageId,
            command: cloudProviderKindCommand(lbPortMapping),
            restart: "unless-stopped",
            networksAdvanced: [{ name: KIND_NETWORK }],
            // It watches kind's containers and starts one envoy container per load balancer.
            volumes: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }],
        }, { parent: this, dependsOn: [this.cluster] });

        // Pods need nodes, and LoadBalancer Services an address before `pulumi up` stops waiting.
        this.workloadDependencies = [this.cluster, cloudProvider];
        this.details = { kubeconfigContext: `kind-${clusterName}`, registry: registryHost };
        this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
    }

    /**
     * Public and internal are the same on a laptop: the addresses live on the `kind` Docker network.
     * cloud-provider-kind forwards load-balancer traffic through an envoy container on that network
     * to the nodes, so pods see addresses of that network (whose subnet Docker picks when it creates
     * it), not the clients'. Nothing narrower is known when the program runs.
     */
    loadBalancer(): LoadBalancerSpec {
        return { annotations: {}, sourceRanges: ["0.0.0.0/0"] };
    }
}
