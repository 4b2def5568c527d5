/**
 * Checks that the command-line tools a stack needs are installed, at workable versions, and
 * reachable: the Pulumi CLI (logged in to a backend), Docker (client and daemon, at the endpoint
 * the docker CLI resolves), kind, the AWS CLI; and, for kind stacks, what the Docker host must
 * offer (cgroup v2 for current node images, a rootful daemon, one cloud-provider-kind, the registry's
 * and the load balancers' host ports free of other containers).
 *
 * Every check is a pure function of a {@link Runner} (how to run a program and what it printed)
 * and the environment, so tests drive them with a fake PATH or a fake runner, and each problem is
 * one line saying what is wrong and how to fix it. `npm run doctor` (scripts/doctor.ts) prints
 * them for a stack; the program runs {@link machinePreflight} before it creates anything
 * (components/docker-host.ts) and hands the daemon it checked to the docker provider, so the
 * doctor, the provider and kind all talk to one daemon.
 */
import { kindServicePorts, type Settings } from "./config";
import { daemonIsWsl2, daemonRunsHere, defaultProviderProblem, dockerArgs, inspectDockerDaemon, isLocalEndpoint, resolveDockerEndpoint, thisMachine, type DockerDaemon, type HostMachine } from "./docker-endpoint";
import { KIND_RELEASE, kindClusterName } from "./cluster/kind/config";
import type { ClusterFlavour } from "./cluster/types";
import { firstLine, type Runner } from "./runner";

/** A command-line tool, how to ask for its version, and where to get it. */
export interface Tool {
    /** Program name on PATH. */
    command: string;
    /** Arguments that print its version without contacting any server. */
    versionArgs: string[];
    /** Oldest version that works here (`x.y.z`). */
    minimum: string;
    /** Why that minimum. */
    reason: string;
    /** Install instructions. */
    install: string;
}

/** The tools a stack may need. */
export const TOOLS = {
    pulumi: {
        command: "pulumi",
        versionArgs: ["version"],
        // A conservative floor: Pulumi.yaml uses typed project config and the nodejs `packagemanager`
        // runtime option; CLIs older than this are untested.
        minimum: "3.120.0",
        reason: "older CLIs are untested with this project's Pulumi.yaml",
        install: "https://www.pulumi.com/docs/install/",
    },
    docker: {
        command: "docker",
        versionArgs: ["--version"],
        minimum: "20.10.0",
        reason: "kind's nodes need cgroup namespaces",
        install: "https://docs.docker.com/get-docker/",
    },
    kind: {
        command: "kind",
        versionArgs: ["version"],
        minimum: KIND_RELEASE,
        reason: "the pinned kindest/node image is built for this kind release",
        install: "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    },
    aws: {
        command: "aws",
        versionArgs: ["--version"],
        minimum: "2.0.0",
        reason: "EKS kubeconfigs call `aws eks get-token`",
        install: "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html",
    },
} as const satisfies Record<string, Tool>;

/** `x.y.z` out of a version banner (`kind v0.33.0 go1.24 linux/amd64`, `Docker version 27.3.1, build ...`). */
export function parseVersion(text: string): string | undefined {
    return /(\d+)\.(\d+)\.(\d+)/.exec(text)?.slice(1, 4).join(".");
}

/** Whether version `a` is older than `b` (both `x.y.z`). */
export function isOlder(a: string, b: string): boolean {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < 3; i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d < 0;
    }
    return false;
}

/**
 * Is the tool on PATH and recent enough? One line per problem; [] when it is.
 * The version is read from what it prints.
 */
export function checkTool(run: Runner, tool: Tool): string[] {
    const invocation = [tool.command, ...tool.versionArgs].join(" ");
    const r = run(tool.command, tool.versionArgs);
    if (r.errorCode === "ENOENT") {
        return [`${tool.command}: not found on PATH; install ${tool.command} ${tool.minimum} or later: ${tool.install}`];
    }
    if (r.status !== 0) {
        return [`${tool.command}: \`${invocation}\` failed (${r.errorCode ?? `exit ${r.status}`}: ${firstLine(r)}); reinstall it: ${tool.install}`];
    }
    const version = parseVersion(r.stdout);
    if (version === undefined) {
        return [`${tool.command}: \`${invocation}\` printed no version (${firstLine(r)}); reinstall it: ${tool.install}`];
    }
    if (isOlder(version, tool.minimum)) {
        return [`${tool.command}: ${version} is older than ${tool.minimum} (${tool.reason}); upgrade: ${tool.install}`];
    }
    return [];
}

/** Is the Pulumi CLI logged in to a backend? */
export function checkPulumiLogin(run: Runner): string[] {
    const r = run("pulumi", ["whoami"]);
    if (r.status === 0) return [];
    return [`pulumi: not logged in to a backend (${firstLine(r)}); run \`pulumi login\` (Pulumi Cloud) or \`pulumi login --local\` (state in ~/.pulumi)`];
}

/** What a kind stack needs of the Docker host. */
export interface KindNeeds {
    /** The kind cluster's name: its nodes, registry, cloud-provider-kind and load balancers carry it. */
    clusterName: string;
    /** The `kindest/node` image: its Kubernetes version decides whether cgroup v1 can work. */
    nodeImage: string;
    /** `kubeforge:cluster.kind.lbPortMapping` as configured (undefined: the host decides). */
    lbPortMapping?: boolean;
    /** Host port of each load-balanced service's load balancer. */
    lbPorts: Map<string, number>;
    /** Host port of the local registry (`kubeforge:cluster.kind.registryPort`); unchecked when undefined. */
    registryPort?: number;
}

/** What a stack needs on this machine. */
export interface StackNeeds {
    /** The stack's cluster flavour. */
    flavour: ClusterFlavour;
    /** Whether any service is built from source (needs Docker even without kind). */
    builds: boolean;
    /** kind stacks: what the Docker host must offer. */
    kind?: KindNeeds;
}

/** What a stack's validated settings ask of this machine. */
export function stackNeeds(settings: Settings): StackNeeds {
    const builds = settings.services.some((s) => s.build !== undefined);
    if (settings.cluster.flavour !== "kind") return { flavour: settings.cluster.flavour, builds };
    const kind = settings.cluster.kind;
    const ports = kindServicePorts(kind, settings.services);
    const lbPorts = new Map(settings.services.filter((s) => s.loadBalancer !== "none").map((s) => [s.name, ports.get(s.name)!]));
    return {
        flavour: "kind",
        builds,
        kind: { clusterName: kindClusterName(settings.project, settings.stack), nodeImage: kind.nodeImage, lbPortMapping: kind.lbPortMapping, lbPorts, registryPort: kind.registryPort },
    };
}

/** The outcome of the machine checks: one line per problem, and the daemon they checked. */
export interface Preflight {
    problems: string[];
    /** The daemon, once one was reached (the stack needs Docker, and the client and endpoint checks passed). */
    daemon?: DockerDaemon;
}

/**
 * Docker for this stack: the client, the endpoint the CLI resolves (one daemon for the doctor,
 * the provider and kind), the daemon there and its version; for kind stacks also a local
 * endpoint, cgroup v2 where the node image needs it, and the containers already on the host; for
 * other stacks, which build images with the docker provider's default endpoint, that it reaches
 * the same daemon.
 */
export function dockerPreflight(run: Runner, env: NodeJS.ProcessEnv, kind?: KindNeeds, machine: HostMachine = thisMachine()): Preflight {
    const client = checkTool(run, TOOLS.docker);
    if (client.length > 0) return { problems: client };
    const endpoint = resolveDockerEndpoint(run, env);
    if (endpoint.problem !== undefined) return { problems: [endpoint.problem] };
    if (kind && !isLocalEndpoint(endpoint.value.host)) {
        return { problems: [`docker: the daemon at ${endpoint.value.host} (${endpoint.value.source}) is on another machine; kind's API server and the local registry listen on 127.0.0.1 there, out of this machine's reach; use a local Docker (\`docker context use default\`, or Docker Desktop's, Colima's or Rancher Desktop's context)`] };
    }
    const daemon = inspectDockerDaemon(run, endpoint.value);
    if (daemon.problem !== undefined) return { problems: [daemon.problem] };
    const d = daemon.value;
    const problems: string[] = [];
    const version = parseVersion(d.serverVersion);
    if (version !== undefined && isOlder(version, TOOLS.docker.minimum)) {
        problems.push(`docker: the daemon is ${version}, older than ${TOOLS.docker.minimum} (${TOOLS.docker.reason}); upgrade: ${TOOLS.docker.install}`);
    }
    if (kind) problems.push(...checkRootless(d), ...checkCgroup(d, kind.nodeImage), ...checkKindHost(run, d, kind, machine));
    else problems.push(...[defaultProviderProblem(run, env, d, machine)].filter((p): p is string => p !== undefined));
    return { problems, daemon: d };
}

/** The Kubernetes minor a `kindest/node:v1.<minor>.<patch>` image runs, if its tag says. */
export function nodeImageMinor(nodeImage: string): number | undefined {
    const m = /:v1\.(\d+)\.\d+/.exec(nodeImage);
    return m ? Number(m[1]) : undefined;
}

/**
 * cgroup v1 with a node image that needs v2. kind's v0.31.0 release notes: node images for
 * Kubernetes 1.35 and later drop cgroup v1 support; kind itself only warns on v1 (v0.32.0
 * pkg/cluster/internal/create/create.go), so the failure would come later, from the kubelet.
 * moby reports `CgroupVersion` "1" or "2" (docker-v29.7.2 daemon/info_unix.go) and leaves it out
 * where it does not know, which is not a problem here.
 */
export function checkCgroup(daemon: DockerDaemon, nodeImage: string): string[] {
    const minor = nodeImageMinor(nodeImage);
    if (daemon.cgroupVersion !== "1" || (minor !== undefined && minor < 35)) return [];
    const tag = /:(v[^@]+)/.exec(nodeImage)?.[1] ?? nodeImage;
    return [`docker: the daemon at ${daemon.endpoint.host} runs cgroup v1, and kind's node images for Kubernetes 1.35 and later need cgroup v2 (kind v0.31.0 release notes), so \`kind create cluster\` would fail with kubeforge:cluster.kind.nodeImage ${tag}; switch the Docker host to cgroup v2 (boot Linux with systemd.unified_cgroup_hierarchy=1; Docker Desktop, Colima and current Ubuntu, Debian and Fedora use it already), or pin a Kubernetes 1.34 node image from kind's release notes`];
}

/**
 * A rootless daemon, which the kind stack does not support: kind needs extra host setup there
 * (kind v0.32.0 pkg/cluster/internal/create/create.go checks rootless apart), cloud-provider-kind
 * is given `/var/run/docker.sock`, which is not a rootless daemon's socket, and the containers'
 * addresses live in RootlessKit's network namespace, out of the host's reach.
 */
export function checkRootless(daemon: DockerDaemon): string[] {
    if (!daemon.rootless) return [];
    return [`docker: the daemon at ${daemon.endpoint.host} (${daemon.endpoint.source}) runs rootless, which the kind stack does not support (cloud-provider-kind needs the daemon's /var/run/docker.sock, and rootless containers' addresses are out of this machine's reach); use rootful Docker Engine (\`docker context use default\` with the system daemon running), Docker Desktop, Colima or Rancher Desktop`];
}

/** Label this project puts on its cloud-provider-kind containers: the kind cluster they were started for. */
export const CLOUD_PROVIDER_KIND_LABEL = "kubeforge.cloud-provider-kind";
/** Label cloud-provider-kind v0.11.1 puts on each load-balancer container: its kind cluster (`pkg/constants/constants.go` NodeCCMLabelKey). */
export const LOAD_BALANCER_CLUSTER_LABEL = "io.x-k8s.cloud-provider-kind.cluster";
/** Label kind puts on its node containers (kind v0.32.0 `pkg/cluster/internal/providers/docker/constants.go`). */
export const KIND_NODE_CLUSTER_LABEL = "io.x-k8s.kind.cluster";

/**
 * Host ports a `docker ps` Ports column publishes: `0.0.0.0:8081->8081/tcp, [::]:8081->8081/tcp`,
 * a range as `0.0.0.0:8081-8083->8081-8083/tcp` (docker/cli v29.7.2 cli/command/formatter/container.go
 * DisplayablePorts); exposed but unpublished ports (`10000/tcp`) have no host port.
 */
export function publishedHostPorts(ports: string): number[] {
    return [...ports.matchAll(/:(\d+)(?:-(\d+))?->/g)].flatMap((m) => {
        const first = Number(m[1]);
        const last = m[2] === undefined ? first : Number(m[2]);
        return Array.from({ length: last - first + 1 }, (_, i) => first + i);
    });
}

/**
 * Whether cloud-provider-kind is told to publish load-balancer ports on the host
 * (`--enable-lb-port-mapping`), and whether it publishes them, for the kind block's
 * `lbPortMapping` as configured.
 * - Port mapping: as configured, else where this machine cannot reach the kind network because
 *   the daemon runs in a VM (macOS, Windows, and Docker Desktop, Colima or Rancher Desktop on
 *   Linux: components/docker-endpoint.ts daemonRunsHere) and in WSL2, where cloud-provider-kind
 *   would otherwise pick tunnel mode, which publishes the same ports and then fails to set up
 *   tunnels in its container (v0.11.1 `cmd/app.go`, `pkg/loadbalancer/server.go`).
 * - Published: with port mapping, or in tunnel mode (WSL2).
 */
export function lbPortsOf(configured: boolean | undefined, daemon: Pick<DockerDaemon, "kernelVersion" | "name">, machine: HostMachine): { portMapping: boolean; published: boolean } {
    const wsl2 = daemonIsWsl2(daemon);
    const portMapping = configured ?? (!daemonRunsHere(daemon, machine) || wsl2);
    return { portMapping, published: portMapping || wsl2 };
}

/**
 * The running containers a kind stack must share the Docker host with: another stack's
 * cloud-provider-kind (one serves every kind cluster on the host; two fight over the load
 * balancers, and either one stopping deletes every cluster's: cloud-provider-kind v0.11.1
 * pkg/controller/controller.go cleanup), any other container holding the registry's port (kind's
 * local-registry guide runs its `kind-registry` on 127.0.0.1:5001 too), and, where load-balancer
 * ports are published on the host, any other container holding one of this stack's load-balancer
 * ports.
 */
export function checkKindHost(run: Runner, daemon: DockerDaemon, kind: KindNeeds, machine: HostMachine): string[] {
    const format = ["{{.Names}}", ...[CLOUD_PROVIDER_KIND_LABEL, LOAD_BALANCER_CLUSTER_LABEL, KIND_NODE_CLUSTER_LABEL].map((l) => `{{.Label "${l}"}}`), "{{.Ports}}"].join("\t");
    const r = run("docker", dockerArgs(daemon.endpoint, ["ps", "--format", format]));
    if (r.status !== 0 || r.errorCode !== undefined) return [`docker: \`docker ps\` failed at ${daemon.endpoint.host} (${firstLine(r)})`];
    const own = new Set([`${kind.clusterName}-registry`, `${kind.clusterName}-cloud-provider-kind`]);
    const { published } = lbPortsOf(kind.lbPortMapping, daemon, machine);
    const ports = [...kind.lbPorts.values()];
    const range = ports.length > 0 ? `${Math.min(...ports)}–${Math.max(...ports)}` : "";
    const problems: string[] = [];
    for (const line of r.stdout.split("\n").filter((l) => l.trim() !== "")) {
        const [name = "", cpkFor = "", lbCluster = "", nodeCluster = "", portsText = ""] = line.split("\t");
        if (own.has(name) || lbCluster === kind.clusterName || nodeCluster === kind.clusterName || cpkFor === kind.clusterName) continue;
        if (cpkFor !== "") {
            problems.push(`kind: the cloud-provider-kind of kind cluster ${cpkFor} runs (container ${name}); one serves every kind cluster on this Docker host, two fight over the load balancers and stopping either deletes every cluster's; run one kind stack at a time: \`pulumi destroy\` that stack, or \`docker stop ${name}\``);
        }
        if (kind.registryPort !== undefined && publishedHostPorts(portsText).includes(kind.registryPort)) {
            problems.push(`kind: host port ${kind.registryPort}, the local registry's, is taken by container ${name}; stop it (\`docker stop ${name}\`), or set kubeforge:cluster.kind.registryPort to a free port`);
        }
        if (!published) continue;
        for (const port of publishedHostPorts(portsText)) {
            const service = [...kind.lbPorts].find(([, p]) => p === port)?.[0];
            if (service !== undefined) {
                problems.push(`kind: host port ${port}, ${service}'s load balancer's, is taken by container ${name}; stop it, or set kubeforge:cluster.kind.lbPortBase so this stack's ports (${range}) miss it`);
            }
        }
    }
    return problems;
}

/** What the kind cluster needs before it can create anything: kind and the Docker host above. */
export function kindPreflight(run: Runner, env: NodeJS.ProcessEnv, kind: KindNeeds, machine: HostMachine = thisMachine()): Preflight {
    const tool = checkTool(run, TOOLS.kind);
    const docker = dockerPreflight(run, env, kind, machine);
    return { problems: [...tool, ...docker.problems], ...(docker.daemon ? { daemon: docker.daemon } : {}) };
}

/** The checks this machine must pass for the program to run a stack (the Pulumi CLI aside). */
export function machinePreflight(run: Runner, env: NodeJS.ProcessEnv, needs: StackNeeds, machine: HostMachine = thisMachine()): Preflight {
    if (needs.kind) return kindPreflight(run, env, needs.kind, machine);
    if (needs.builds) return dockerPreflight(run, env, undefined, machine);
    return { problems: [] };
}

/** Every check for a stack, in the order a newcomer would fix them: one line per problem. */
export function stackPrerequisites(run: Runner, env: NodeJS.ProcessEnv, needs: StackNeeds, machine: HostMachine = thisMachine()): string[] {
    const pulumi = checkTool(run, TOOLS.pulumi);
    const problems = [...pulumi, ...(pulumi.length === 0 ? checkPulumiLogin(run) : [])];
    problems.push(...machinePreflight(run, env, needs, machine).problems);
    if (needs.flavour === "eks") problems.push(...checkTool(run, TOOLS.aws));
    return problems;
}
