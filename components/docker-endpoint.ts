/**
 * The one Docker endpoint the doctor checks, the program's docker provider uses and kind is
 * pointed at, and what that daemon says about itself.
 *
 * The docker CLI (and kind, which shells out to it) resolves its endpoint as `--host`, then
 * `DOCKER_HOST`, then `DOCKER_CONTEXT`, then the `currentContext` of `~/.docker/config.json`, then
 * the `default` context (docker/cli v29.7.2 `cli/command/cli.go` resolveContextName). The Pulumi
 * docker provider does not: @pulumi/docker 4.11.2 builds images on its `host` config, else
 * `DOCKER_HOST`, else `/var/run/docker.sock` (pulumi-docker v4.11.2 `provider/image.go`
 * configureDockerClient), and runs containers on `DOCKER_CONTEXT` when set, whatever `host` says
 * (`provider/resources.go` host default; terraform-provider-docker v3.9.0
 * `internal/provider/provider.go` configure). So a kind stack resolves the endpoint the way the
 * CLI does and hands it to an explicit provider as `host`; a stack that only builds images keeps
 * the default provider (no machine's socket path in its state) and the checks make sure its default
 * reaches the same daemon ({@link defaultProviderProblem}); and `DOCKER_CONTEXT`, which would split
 * the provider in two, is refused. Every function here is pure over a {@link Runner}.
 */
import { hostname, release } from "node:os";
import { firstLine, type Runner } from "./runner";

/** A Docker daemon address and where the docker CLI got it from. */
export interface DockerEndpoint {
    /** The address, as the docker CLI uses it: `unix:///var/run/docker.sock`, `unix:///Users/me/.colima/default/docker.sock`, `tcp://127.0.0.1:2375`. */
    host: string;
    /** Where it came from, for messages: `DOCKER_HOST`, or `context "colima"`. */
    source: string;
}

/** What a reachable daemon says about itself (`docker info`). */
export interface DockerDaemon {
    endpoint: DockerEndpoint;
    /** The daemon's ID (`docker info` ID): two endpoints reach one daemon when it is the same. */
    id: string;
    /** The daemon's version (`ServerVersion`). */
    serverVersion: string;
    /** `1` or `2`; undefined where the daemon does not say (moby omits it outside Linux). */
    cgroupVersion?: string;
    /** The daemon's kernel release (`uname -r` of the machine or VM Docker runs in, as moby normalises it: {@link kernelRelease}). */
    kernelVersion: string;
    /** Host name of the machine or VM the daemon runs in (`docker info` Name: the daemon's `os.Hostname()`). */
    name: string;
    /** The daemon's machine's architecture, `uname -m` (`docker info` Architecture): `x86_64`, `aarch64`. */
    architecture: string;
    /** Whether it runs rootless (`docker info` SecurityOptions has `name=rootless`: moby docker-v29.7.2 daemon/info.go fillSecurityOptions). */
    rootless?: boolean;
    /** CPUs of the daemon's machine or VM (`docker info` NCPU); undefined where it does not say. */
    cpus?: number;
    /** Memory of the daemon's machine or VM, bytes (`docker info` MemTotal); undefined where it does not say. */
    memoryBytes?: number;
}

/** Go's architecture names (Docker's platforms) for the `uname -m` names moby reports. */
const UNAME_GOARCH: Record<string, string> = {
    x86_64: "amd64", amd64: "amd64", aarch64: "arm64", arm64: "arm64", armv7l: "arm", armv6l: "arm",
    i386: "386", i686: "386", ppc64le: "ppc64le", s390x: "s390x", riscv64: "riscv64", loongarch64: "loong64",
};

/**
 * The platform of the daemon's containers, `linux/<GOARCH>`, from the architecture moby reports
 * (docker-v29.7.2 `daemon/internal/platform/platform_linux.go` runtimeArchitecture: uname's
 * machine field); undefined for one it does not know. kind's nodes run on it, so a service image
 * must be built for it, whatever architecture the Node.js running Pulumi has (an x64 Node under
 * Rosetta on Apple silicon, an x86_64 Colima VM on an arm64 Mac).
 */
export function daemonPlatform(daemon: Pick<DockerDaemon, "architecture">): string | undefined {
    const goarch = UNAME_GOARCH[daemon.architecture];
    return goarch === undefined ? undefined : `linux/${goarch}`;
}

/** This machine, as far as telling whether a Docker daemon runs on it goes. */
export interface HostMachine {
    /** `process.platform`. */
    platform: NodeJS.Platform;
    /** Kernel release (`os.release()`, `uname -r`). */
    release: string;
    /** Host name (`os.hostname()`). */
    hostname: string;
}

/** The machine this process runs on. */
export function thisMachine(): HostMachine {
    return { platform: process.platform, release: release(), hostname: hostname() };
}

/**
 * A kernel release as moby reports it (`KernelVersion`): docker-v29.7.2
 * `pkg/parsers/kernel/kernel.go` ParseRelease, then VersionInfo.String (`%d.%d.%d%s`), so
 * `3.12-1-amd64` becomes `3.12.0-1-amd64`; a release it cannot parse is reported as "".
 */
export function kernelRelease(raw: string): string {
    const m = /^([+-]?\d+)\.([+-]?\d+)(\S*)/.exec(raw);
    if (!m) return "";
    const [, kernel, major, partial = ""] = m;
    const minor = /^\.([+-]?\d+)(\S*)$/.exec(partial);
    return `${Number(kernel)}.${Number(major)}.${minor ? Number(minor[1]) : 0}${minor ? minor[2] : partial}`;
}

/**
 * Whether the daemon runs on this machine itself, so its bridge networks (kind's included) are
 * routable from here: a Linux host whose kernel release and host name the daemon reports as its
 * own. Docker Desktop (on Linux too), Colima and Rancher Desktop run the daemon in a VM with a
 * kernel and a host name of its own (`docker-desktop`, `colima`, `lima-rancher-desktop`); in WSL2,
 * Docker Desktop's daemon shares the WSL2 kernel but not the distribution's host name.
 */
export function daemonRunsHere(daemon: Pick<DockerDaemon, "kernelVersion" | "name">, host: HostMachine): boolean {
    return host.platform === "linux" && daemon.kernelVersion !== "" && daemon.kernelVersion === kernelRelease(host.release) && daemon.name === host.hostname;
}

/** Either a value or the one line saying why there is none. */
export type Checked<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

/** The `docker` command line for a resolved endpoint: the CLI then talks to exactly that daemon. */
export function dockerArgs(endpoint: DockerEndpoint, args: readonly string[]): string[] {
    return ["--host", endpoint.host, ...args];
}

/** The Docker endpoint the docker CLI uses in `env`: `DOCKER_HOST`, else the current context's. */
export function resolveDockerEndpoint(run: Runner, env: NodeJS.ProcessEnv): Checked<DockerEndpoint> {
    const context = env.DOCKER_CONTEXT;
    if (context) {
        return { problem: `docker: DOCKER_CONTEXT=${context} is set; the Pulumi docker provider would run containers on that context but build images on DOCKER_HOST or the default socket (two daemons); unset DOCKER_CONTEXT and select the context with \`docker context use ${context}\`` };
    }
    if (env.DOCKER_HOST) return { value: { host: env.DOCKER_HOST, source: "DOCKER_HOST" } };

    // With no argument, `docker context inspect` shows the current context (docker/cli v29.7.2
    // cli/command/context/inspect.go): its metadata, with the endpoint at Endpoints.docker.Host.
    const r = run("docker", ["context", "inspect", "--format", "{{json .}}"]);
    if (r.status !== 0 || r.errorCode !== undefined) {
        return { problem: `docker: cannot tell which daemon the docker CLI uses (\`docker context inspect\` failed: ${firstLine(r)}); check \`docker context ls\` and select a context with \`docker context use <name>\`` };
    }
    let meta: ContextMetadata;
    try {
        meta = JSON.parse(r.stdout.trim().split("\n")[0] ?? "") as ContextMetadata;
    } catch {
        return { problem: `docker: \`docker context inspect\` printed no context (${firstLine(r)}); check \`docker context ls\`` };
    }
    const name = meta.Name ?? "default";
    const host = meta.Endpoints?.docker?.Host;
    if (!host) return { problem: `docker: context "${name}" has no Docker endpoint; select another with \`docker context use <name>\`` };
    if (Object.keys(meta.TLSMaterial ?? {}).length > 0) {
        return { problem: `docker: context "${name}" (${host}) connects with TLS files from the docker CLI's context store, which the Pulumi docker provider cannot read; use a context without TLS, or set DOCKER_HOST, DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH instead` };
    }
    return { value: { host, source: `context "${name}"` } };
}

/** The part of `docker context inspect` this reads (docker/cli v29.7.2 cli/context/store Metadata, EndpointMetaBase). */
interface ContextMetadata {
    Name?: string;
    Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
    TLSMaterial?: Record<string, unknown>;
}

/** The part of `docker info --format '{{json .}}'` this reads (moby docker-v29.7.2 api/types/system/info.go). */
interface InfoJson {
    ID?: string;
    Name?: string;
    Architecture?: string;
    SecurityOptions?: string[];
    ServerVersion?: string;
    CgroupVersion?: string;
    KernelVersion?: string;
    NCPU?: number;
    MemTotal?: number;
    ServerErrors?: string[];
}

/**
 * Ask the daemon at `endpoint` about itself. A daemon that cannot be reached is one line naming
 * the endpoint and its source. `docker info` exits non-zero only on a connection failure; other
 * server errors (permission denied on the socket, say) come back in `ServerErrors` with exit 0
 * (docker/cli v29.7.2 cli/command/system/info.go addServerInfo), so both count as unreachable.
 */
export function inspectDockerDaemon(run: Runner, endpoint: DockerEndpoint): Checked<DockerDaemon> {
    const r = run("docker", dockerArgs(endpoint, ["info", "--format", "{{json .}}"]));
    let info: InfoJson | undefined;
    try {
        info = JSON.parse(r.stdout.trim().split("\n")[0] ?? "") as InfoJson;
    } catch {
        info = undefined;
    }
    const failure = r.status !== 0 || r.errorCode !== undefined || !info?.ServerVersion;
    if (failure) {
        const why = info?.ServerErrors?.[0] ?? firstLine(r);
        return { problem: `docker: the daemon at ${endpoint.host} (${endpoint.source}) is not reachable (${why}); start Docker Desktop, Colima or Rancher Desktop, or on Linux \`sudo systemctl start docker\` and make sure your user may use it (\`docker info\` must work)` };
    }
    return {
        value: {
            endpoint,
            id: info!.ID ?? "",
            serverVersion: info!.ServerVersion!,
            ...(info!.CgroupVersion ? { cgroupVersion: info!.CgroupVersion } : {}),
            kernelVersion: info!.KernelVersion ?? "",
            name: info!.Name ?? "",
            architecture: info!.Architecture ?? "",
            ...((info!.SecurityOptions ?? []).includes("name=rootless") ? { rootless: true } : {}),
            ...(typeof info!.NCPU === "number" ? { cpus: info!.NCPU } : {}),
            ...(typeof info!.MemTotal === "number" ? { memoryBytes: info!.MemTotal } : {}),
        },
    };
}

/**
 * Whether the daemon runs in WSL2. cloud-provider-kind v0.11.1 (`cmd/app.go` isWSL2) switches to
 * tunnel mode, which publishes load-balancer ports on the host, when `/proc/version` contains
 * `WSL2`; in its container that file is the daemon's kernel, whose release (`uname -r`, what moby
 * reports as KernelVersion, docker-v29.7.2 `pkg/parsers/kernel/kernel_unix.go`) is where WSL2
 * kernels carry the name (`5.15.153.1-microsoft-standard-WSL2`).
 */
export function daemonIsWsl2(daemon: Pick<DockerDaemon, "kernelVersion">): boolean {
    return daemon.kernelVersion.includes("WSL2");
}

/**
 * Whether the endpoint is on this machine (a socket, a named pipe, or TCP on loopback). kind's API
 * server and the local registry bind 127.0.0.1 of the daemon's machine, so a kind stack needs one.
 */
export function isLocalEndpoint(host: string): boolean {
    if (host.startsWith("unix://") || host.startsWith("npipe://")) return true;
    if (!host.startsWith("tcp://")) return false;
    try {
        const name = new URL(host).hostname;
        return name === "localhost" || name === "[::1]" || /^127\./.test(name);
    } catch {
        return false;
    }
}

/**
 * Where @pulumi/docker 4.11.2's provider goes when it is given no `host`: `DOCKER_HOST`, else the
 * first of `/var/run/docker.sock`, `~/.docker/run/docker.sock` and `~/.docker/desktop/docker.sock`
 * that answers (only the named pipe on Windows) (pulumi-docker v4.11.2 provider/image.go
 * configureDockerClient, and provider/provider.go Configure, which passes that host on to the
 * bridged resources as DOCKER_HOST). A stack that builds images on it, but may be previewed from CI
 * and laptops alike, must reach the daemon the docker CLI uses: one line when it would not.
 */
export function defaultProviderProblem(run: Runner, env: NodeJS.ProcessEnv, daemon: DockerDaemon, machine: HostMachine): string | undefined {
    if (env.DOCKER_HOST) return undefined;
    const home = env.HOME ?? "";
    const candidates = machine.platform === "win32"
        ? ["npipe:////./pipe/docker_engine"]
        : ["unix:///var/run/docker.sock", `unix://${home}/.docker/run/docker.sock`, `unix://${home}/.docker/desktop/docker.sock`];
    const fix = `export DOCKER_HOST=${daemon.endpoint.host} (the docker CLI's, ${daemon.endpoint.source}) before \`pulumi\``;
    for (const host of candidates) {
        if (host === daemon.endpoint.host) return undefined;
        const other = inspectDockerDaemon(run, { host, source: "the Pulumi docker provider's default" });
        if (other.value === undefined) continue;
        if (other.value.id !== "" && other.value.id === daemon.id) return undefined;
        return `docker: the Pulumi docker provider would build images on the daemon at ${host}, not on the docker CLI's at ${daemon.endpoint.host} (${daemon.endpoint.source}); ${fix}`;
    }
    return `docker: the Pulumi docker provider would find no daemon (it tries DOCKER_HOST, then ${candidates.join(", ")}), while the docker CLI uses ${daemon.endpoint.host} (${daemon.endpoint.source}); ${fix}`;
}
