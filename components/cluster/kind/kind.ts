/**
 * Cluster flavour `kind`: a local Kubernetes cluster in Docker containers, with
 * - a local image registry (`registry` container on 127.0.0.1:<port>, on the `kind` network,
 *   announced to containerd through `certs.d/<host>/hosts.toml` and to tools through the
 *   `local-registry-hosting` ConfigMap of KEP-1755), as kind's local-registry guide sets it up:
 *   https://kind.sigs.k8s.io/docs/user/local-registry/
 * - load balancers from cloud-provider-kind (the approach kind's docs recommend), run as a
 *   container with the Docker socket, so every Service of type LoadBalancer gets an address.
 *
 * The cluster itself is created and deleted with the `kind` CLI through a `local.Command`, run
 * against the checked Docker daemon (`DOCKER_HOST`); its kubeconfig is the command's (secret)
 * stdout. Changing the node count, node image or registry port replaces the cluster (kind cannot
 * change a running cluster's nodes); any other change of the command runs its idempotent script,
 * which never creates a cluster that exists. Every docker resource uses the checked daemon's
 * explicit provider, and each service's load balancer gets a host port of its own.
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { kindServicePorts, type Settings } from "../../config";
import { daemonPlatform, thisMachine, type HostMachine } from "../../docker-endpoint";
import type { LocalDocker } from "../../docker-host";
import { kubeforgeLabels } from "../../microservice";
import { CLOUD_PROVIDER_KIND_LABEL, lbPortsOf } from "../../prerequisites";
import { kindClusterName, type KindSettings } from "./config";
import type { ImageRegistry, KubeCluster, LoadBalancerScope, LoadBalancerSpec } from "../types";

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

/**
 * The node mount's source, relative to the cluster's state directory `~/.kubeforge/<cluster>`,
 * where the cluster script runs kind: kind makes a relative `hostPath` absolute against its
 * working directory (kind v0.32.0 `pkg/cluster/internal/providers/docker/provision.go`, "fixup
 * relative paths"), so no input of the program carries an absolute path, and moving the checkout
 * neither replaces the cluster nor leaves its nodes mounting a directory that moved away.
 */
export const CERTS_DIR = "certs.d";

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
}

/** kind `v1alpha4` cluster config: one control plane, N workers, containerd reading `certs.d`. */
export function kindClusterConfig(input: KindConfigInput): Record<string, unknown> {
    const node = (role: "control-plane" | "worker") => ({
        role,
        image: input.nodeImage,
        extraMounts: [{ hostPath: CERTS_DIR, containerPath: CONTAINERD_CERTS_DIR, readOnly: true }],
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
 * The cluster command's `create` and `update`: make sure the cluster exists, then print its
 * kubeconfig (the command's stdout, which the Kubernetes provider reads). pulumi-command v1.2.1
 * runs `create` again on any change of the command's inputs when `update` is unset
 * (`provider/pkg/provider/local/commandController.go` Update), and kind refuses to create a cluster
 * whose name exists ("node(s) already exist", kind v0.32.0 `pkg/cluster/internal/create/create.go`),
 * so both are this idempotent script: a script change on a running dev stack only rewrites
 * hosts.toml and reads the kubeconfig again. A cluster of this name left behind (an interrupted run)
 * is used as it is. kind prints one cluster name per line (`pkg/cmd/kind/get/clusters/clusters.go`).
 */
export const ENSURE_CLUSTER_SCRIPT = [
    "set -e",
    `dir="\${HOME:?HOME is not set}/.kubeforge/$CLUSTER"`,
    `mkdir -p "$dir/${CERTS_DIR}/$REGISTRY_HOST"`,
    `printf '%s' "$HOSTS_TOML" > "$dir/${CERTS_DIR}/$REGISTRY_HOST/hosts.toml"`,
    `clusters=$(kind get clusters)`,
    `if printf '%s\n' "$clusters" | grep -qxF "$CLUSTER"; then`,
    `  echo "kind cluster $CLUSTER exists; using it" >&2`,
    "else",
    // kind's progress goes to stderr (logged); stdout is the kubeconfig (secret, not logged).
    `  (cd "$dir" && kind create cluster --name "$CLUSTER" --config - --wait 120s) 1>&2`,
    "fi",
    `kind get kubeconfig --name "$CLUSTER"`,
].join("\n");

/**
 * The cluster command's `delete`: the cluster (a missing one is no error for kind), its state
 * directory, and `~/.kubeforge` once no other cluster's is left in it.
 */
export const DELETE_CLUSTER_SCRIPT = [
    "set -e",
    `kind delete cluster --name "$CLUSTER"`,
    `rm -rf "\${HOME:?HOME is not set}/.kubeforge/$CLUSTER"`,
    `rmdir "$HOME/.kubeforge" 2>/dev/null || true`,
].join("\n");

/**
 * cloud-provider-kind's container command (its image's entrypoint is the binary, so only flags):
 * publish load-balancer ports on the host where the kind network is unreachable; none otherwise.
 */
export function cloudProviderKindCommand(lbPortMapping: boolean): string[] | undefined {
    return lbPortMapping ? ["--enable-lb-port-mapping"] : undefined;
}

/** The IPv4 subnet of a Docker network's IPAM config (kind's network also has a generated IPv6 ULA one). */
export function ipv4Subnet(configs: readonly { subnet?: string }[] | undefined): string {
    const subnet = (configs ?? []).map((c) => c.subnet ?? "").find((s) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(s));
    if (subnet === undefined) {
        throw new pulumi.RunError(`kind: the Docker network "${KIND_NETWORK}" has no IPv4 subnet (${JSON.stringify(configs ?? [])}); delete it (\`docker network rm ${KIND_NETWORK}\`, once no kind cluster uses it) and run again`);
    }
    return subnet;
}

export interface KindClusterArgs {
    /** Validated settings; reads `project`, `stack`, `services` (names and load balancers) and `cluster.kind`. */
    settings: Settings;
    /** The checked Docker daemon: every docker resource uses its provider, and kind is pointed at its endpoint. */
    docker: LocalDocker;
    /** This machine; with the daemon, decides the default of `lbPortMapping`. Default: {@link thisMachine}. */
    host?: HostMachine;
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
    /** IPv4 subnet of the `kind` Docker network: the nodes and the load balancers' envoy containers live there. */
    readonly nodeNetwork: pulumi.Output<string>;
    /** Host port (and Service port) of each service's load balancer ({@link kindServicePorts}). */
    private readonly lbPorts: Map<string, number>;
    /** Whether load-balancer ports are published on the host, so `localhost:<port>` reaches them. */
    private readonly lbPublished: boolean;

    constructor(name: string, args: KindClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:cluster:KindCluster", name, {}, opts);
        const { project, stack } = args.settings;
        const kind: KindSettings = args.settings.cluster.kind;
        const { provider: dockerProvider, daemon } = args.docker;
        const dockerChild = { parent: this, provider: dockerProvider };

        const clusterName = kindClusterName(project, stack);
        const registryContainer = `${clusterName}-registry`;
        const registryHost = `localhost:${kind.registryPort}`;
        const { portMapping: lbPortMapping, published } = lbPortsOf(kind.lbPortMapping, daemon, args.host ?? thisMachine());
        this.lbPublished = published;
        this.lbPorts = kindServicePorts(kind, args.settings.services);

        this.cluster = new command.local.Command(`${name}-cluster`, {
            interpreter: ["/bin/sh", "-c"],
            create: ENSURE_CLUSTER_SCRIPT,
            update: ENSURE_CLUSTER_SCRIPT,
            delete: DELETE_CLUSTER_SCRIPT,
            stdin: stringify(kindClusterConfig({ workers: kind.workers, nodeImage: kind.nodeImage })),
            environment: {
                CLUSTER: clusterName,
                REGISTRY_HOST: registryHost,
                HOSTS_TOML: registryHostsToml(registryContainer),
                // kind runs the docker CLI (kind v0.32.0 pkg/cluster/internal/providers/docker):
                // DOCKER_HOST, which the CLI puts before any context, sends it to the checked daemon.
                DOCKER_HOST: daemon.endpoint.host,
            },
            logging: command.types.enums.local.Logging.Stderr,
            // kind cannot change a running cluster's nodes: these replace it. pulumi-command
            // v1.2.1 marks `triggers` replaceOnChanges (provider/pkg/provider/common/inputs.go);
            // any other change is an update, which runs the idempotent script above.
            triggers: [kind.workers, kind.nodeImage, kind.registryPort],
        }, {
            parent: this,
            additionalSecretOutputs: ["stdout"],
            // The name is fixed, so the old cluster goes first.
            deleteBeforeReplace: true,
        });

        this.kubeconfig = this.cluster.stdout;
        this.clusterName = this.cluster.id.apply(() => clusterName);
        this.provider = new k8s.Provider(`${name}-k8s`, {
            kubeconfig: this.kubeconfig,
            // After `kind delete cluster` outside Pulumi, `pulumi refresh` drops what was in it.
            deleteUnreachable: true,
        }, { parent: this });

        const registryImage = new docker.RemoteImage(`${name}-registry-image`, { name: REGISTRY_IMAGE, keepLocally: true }, dockerChild);
        const registryData = new docker.Volume(`${name}-registry-data`, { name: `${registryContainer}-data` }, dockerChild);
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
        }, { ...dockerChild, dependsOn: [this.cluster] });
        // Pushing needs the registry running: the repository carries that dependency. Images are
        // built for the daemon's architecture: the nodes run on it.
        const platform = daemonPlatform(daemon);
        this.registry = { repository: (service) => registry.name.apply(() => `${registryHost}/${service}`), ...(platform ? { platform } : {}) };

        new k8s.core.v1.ConfigMap(`${name}-local-registry-hosting`, {
            metadata: {
                name: "local-registry-hosting",
                namespace: "kube-public",
                labels: kubeforgeLabels("local-registry-hosting", clusterName, "registry"),
            },
            data: {
                "localRegistryHosting.v1": stringify({ host: registryHost, help: "https://kind.sigs.k8s.io/docs/user/local-registry/" }),
            },
        }, { parent: this, provider: this.provider });

        const cpkImage = new docker.RemoteImage(`${name}-cloud-provider-kind-image`, { name: CLOUD_PROVIDER_KIND_IMAGE, keepLocally: true }, dockerChild);
        const cloudProvider = new docker.Container(`${name}-cloud-provider-kind`, {
            name: `${clusterName}-cloud-provider-kind`,
            image: cpkImage.imageId,
            command: cloudProviderKindCommand(lbPortMapping),
            restart: "unless-stopped",
            networksAdvanced: [{ name: KIND_NETWORK }],
            // It watches kind's containers and starts one envoy container per load balancer.
            volumes: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }],
            // The doctor finds another stack's cloud-provider-kind by this label.
            labels: [{ label: CLOUD_PROVIDER_KIND_LABEL, value: clusterName }],
        }, { ...dockerChild, dependsOn: [this.cluster] });

        // The network exists once kind has created a cluster; before that (a first preview) the
        // engine leaves this invoke, and what depends on it, unknown.
        this.nodeNetwork = docker.getNetworkOutput({ name: KIND_NETWORK }, { ...dockerChild, dependsOn: [this.cluster] })
            .apply((network) => ipv4Subnet(network.ipamConfigs));

        // Pods need nodes, and LoadBalancer Services an address before `pulumi up` stops waiting.
        this.workloadDependencies = [this.cluster, cloudProvider];
        this.details = { kubeconfigContext: `kind-${clusterName}`, registry: registryHost };
        this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig, nodeNetwork: this.nodeNetwork });
    }

    /**
     * Public and internal are the same on a laptop: the addresses live on the `kind` Docker network.
     * Each service's load balancer listens on its own host port ({@link kindServicePorts}), and
     * cloud-provider-kind v0.11.1 forwards its traffic through an envoy container on that network to
     * the nodes' NodePorts (`pkg/loadbalancer/proxy.go`), which pass it on to the pods: so pods see
     * sources in the network's subnet (envoy, or a node that forwarded it), never the client's, and
     * never a pod's (pods live in 10.244.0.0/16). kindnet's policy engine matches an ipBlock against
     * any source, pod IPs included, so admitting that subnet rather than 0.0.0.0/0 keeps the
     * "callers only" rule. cloud-provider-kind publishes ports only when it creates the envoy
     * container (`pkg/loadbalancer/server.go` EnsureLoadBalancer), so a new port needs a new Service.
     */
    loadBalancer(_scope: LoadBalancerScope, _healthPath: string, service: string): LoadBalancerSpec {
        const port = this.lbPorts.get(service);
        if (port === undefined) throw new pulumi.RunError(`kind: no load-balancer port for service ${service}`);
        return {
            annotations: {},
            sourceRanges: [this.nodeNetwork],
            port,
            recreateOnPortChange: true,
            ...(this.lbPublished ? { urlHost: "localhost" } : {}),
        };
    }
}
