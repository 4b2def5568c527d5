/**
 * One Docker endpoint for the doctor, the program's docker provider and kind (issue #11, items 2
 * and 3), driven by a fake docker CLI: a {@link Runner} that answers `docker context inspect`,
 * `docker --host H info` and `docker --host H ps` the way docker/cli v29.7.2 does, for the
 * endpoints laptops have (the default socket, Colima, Rancher Desktop, Docker Desktop for Linux,
 * DOCKER_HOST), a stopped daemon, and the kind-host checks (cgroup v1, another stack's
 * cloud-provider-kind, a taken load-balancer port).
 */
import { describe, expect, it } from "vitest";
import { parseSettings } from "../components/config";
import { daemonIsWsl2, daemonPlatform, daemonRunsHere, inspectDockerDaemon, isLocalEndpoint, kernelRelease, resolveDockerEndpoint, type DockerDaemon, type HostMachine } from "../components/docker-endpoint";
import { DockerHost } from "../components/docker-host";
import { KindCluster } from "../components/cluster/kind/kind";
import {
    checkCgroup, dockerPreflight, machinePreflight, nodeImageMinor, publishedHostPorts, stackNeeds, stackPrerequisites, type KindNeeds,
} from "../components/prerequisites";
import type { Runner, RunResult } from "../components/runner";
import { runUnderMocks, type RecordedResource } from "../scripts/mocks";
import { runStack } from "./harness";

interface FakeContext {
    host: string;
    tls?: boolean;
}

/** A machine's docker CLI and daemons. */
interface FakeMachine {
    /** Contexts by name (`default` is synthesized by the CLI from DOCKER_HOST or the platform socket). */
    contexts?: Record<string, FakeContext>;
    /** `currentContext` of ~/.docker/config.json. */
    current?: string;
    /** What `docker info --format '{{json .}}'` says per endpoint; absent: nothing listens there. */
    daemons: Record<string, Record<string, unknown> | { permissionDenied: true }>;
    /** `docker ps` lines per endpoint. */
    containers?: Record<string, string[]>;
}

const ok = (stdout: string): RunResult => ({ status: 0, stdout: `${stdout}\n`, stderr: "" });
const fail = (stderr: string, status = 1): RunResult => ({ status, stdout: "", stderr: `${stderr}\n` });

/** A Linux daemon with cgroup v2, running on {@link LINUX_HOST}; `id` tells daemons apart. */
const daemonInfo = (id: string) => ({ ID: id, Name: "laptop", Architecture: "x86_64", ServerVersion: "27.3.1", CgroupVersion: "2", KernelVersion: "6.8.0-45-generic", OSType: "linux" });
const LINUX = daemonInfo("3f2a9c1e-linux");
/** The machines the checks run on: a Linux laptop (Docker Engine's daemon is {@link LINUX}) and a Mac. */
const LINUX_HOST: HostMachine = { platform: "linux", release: "6.8.0-45-generic", hostname: "laptop" };
const MAC: HostMachine = { platform: "darwin", release: "24.1.0", hostname: "laptop" };

/**
 * A fake `docker` for `env`, recording every command line. It resolves the current context as
 * docker/cli v29.7.2 cli/command/cli.go resolveContextName does (DOCKER_HOST, then DOCKER_CONTEXT,
 * then currentContext, then `default`).
 */
function fakeDocker(machine: FakeMachine, env: NodeJS.ProcessEnv = {}): { run: Runner; calls: string[][] } {
    const calls: string[][] = [];
    const run: Runner = (command, args) => {
        calls.push([command, ...args]);
        if (command === "kind") return ok("kind v0.33.0 go1.24.6 linux/amd64");
        if (command !== "docker") return { status: null, stdout: "", stderr: "", errorCode: "ENOENT" };
        let rest = [...args];
        let host: string | undefined;
        if (rest[0] === "--host") {
            host = rest[1];
            rest = rest.slice(2);
        }
        const contexts: Record<string, FakeContext> = { default: { host: env.DOCKER_HOST ?? "unix:///var/run/docker.sock" }, ...machine.contexts };
        const name = env.DOCKER_HOST ? "default" : env.DOCKER_CONTEXT ?? machine.current ?? "default";
        const context = contexts[name];
        const target = host ?? context?.host;
        switch (rest[0]) {
            case "--version":
                return ok("Docker version 27.3.1, build ce12230");
            case "context":
                if (!context) return fail(`context "${name}": context not found: open /home/alice/.docker/contexts/meta/x/meta.json: no such file or directory`);
                return ok(JSON.stringify({ Name: name, Endpoints: { docker: { Host: context.host, SkipTLSVerify: false } }, TLSMaterial: context.tls ? { docker: ["ca.pem", "cert.pem", "key.pem"] } : {}, Storage: {} }));
            case "info": {
                const info = target === undefined ? undefined : machine.daemons[target];
                if (info === undefined) return fail(`Cannot connect to the Docker daemon at ${target}. Is the docker daemon running?`);
                if ("permissionDenied" in info) {
                    const err = `permission denied while trying to connect to the docker API at ${target}`;
                    return { status: 0, stdout: `${JSON.stringify({ ServerErrors: [err] })}\n`, stderr: `${err}\n` };
                }
                return ok(JSON.stringify(info));
            }
            case "ps":
                return ok((machine.containers?.[target ?? ""] ?? []).join("\n"));
            default:
                return fail(`unknown command ${rest.join(" ")}`, 2);
        }
    };
    return { run, calls };
}

/** The endpoint every `docker --host ... info` call went to. */
const infoHosts = (calls: string[][]): string[] => calls.filter((c) => c[0] === "docker" && c.includes("info")).map((c) => c[2]!);

const KIND: KindNeeds = { clusterName: "kubeforge-dev", nodeImage: `kindest/node:v1.37.0@sha256:${"a".repeat(64)}`, lbPorts: new Map([["backend", 8081], ["messages", 8082], ["reports", 8083]]) };

describe("the Docker endpoint the docker CLI uses", () => {
    const laptops: [string, FakeMachine, NodeJS.ProcessEnv, string, string][] = [
        ["the default context", { daemons: { "unix:///var/run/docker.sock": LINUX } }, {}, "unix:///var/run/docker.sock", 'context "default"'],
        ["Colima", { contexts: { colima: { host: "unix:///Users/alice/.colima/default/docker.sock" } }, current: "colima", daemons: { "unix:///Users/alice/.colima/default/docker.sock": LINUX } }, {}, "unix:///Users/alice/.colima/default/docker.sock", 'context "colima"'],
        ["Rancher Desktop", { contexts: { "rancher-desktop": { host: "unix:///Users/alice/.rd/docker.sock" } }, current: "rancher-desktop", daemons: { "unix:///Users/alice/.rd/docker.sock": LINUX } }, {}, "unix:///Users/alice/.rd/docker.sock", 'context "rancher-desktop"'],
        ["Docker Desktop for Linux", { contexts: { "desktop-linux": { host: "unix:///home/alice/.docker/desktop/docker.sock" } }, current: "desktop-linux", daemons: { "unix:///home/alice/.docker/desktop/docker.sock": LINUX } }, {}, "unix:///home/alice/.docker/desktop/docker.sock", 'context "desktop-linux"'],
        // DOCKER_HOST beats any context (docker/cli v29.7.2 cli/command/cli.go resolveContextName).
        ["DOCKER_HOST", { contexts: { colima: { host: "unix:///Users/alice/.colima/default/docker.sock" } }, current: "colima", daemons: { "tcp://127.0.0.1:2375": LINUX } }, { DOCKER_HOST: "tcp://127.0.0.1:2375" }, "tcp://127.0.0.1:2375", "DOCKER_HOST"],
    ];

    it.each(laptops)("%s: the doctor checks the daemon at the context's endpoint, by --host", (_label, machine, env, host, source) => {
        const { run, calls } = fakeDocker(machine, env);
        const preflight = dockerPreflight(run, env, KIND);
        expect(preflight.problems).toEqual([]);
        expect(preflight.daemon?.endpoint).toEqual({ host, source });
        expect(infoHosts(calls)).toEqual([host]);
        // Every daemon call names the endpoint, so nothing else (a context, DOCKER_HOST) can redirect it.
        for (const c of calls.filter((call) => call[1] === "info" || call[1] === "ps")) expect(c).toEqual(["docker", "--host", host, ...c.slice(3)]);
    });

    it("uses DOCKER_HOST without asking for a context", () => {
        const { run, calls } = fakeDocker({ daemons: {} }, { DOCKER_HOST: "unix:///run/user/1000/docker.sock" });
        expect(resolveDockerEndpoint(run, { DOCKER_HOST: "unix:///run/user/1000/docker.sock" })).toEqual({ value: { host: "unix:///run/user/1000/docker.sock", source: "DOCKER_HOST" } });
        expect(calls).toEqual([]);
    });

    it("refuses DOCKER_CONTEXT: the docker provider would follow it for containers but not for image builds", () => {
        // pulumi-docker v4.11.2: docker.Image uses host, else DOCKER_HOST, else the default socket
        // (provider/image.go configureDockerClient); the bridged resources read DOCKER_CONTEXT, which
        // overrides host (terraform-provider-docker v3.9.0 internal/provider/provider.go configure).
        for (const env of [{ DOCKER_CONTEXT: "colima" }, { DOCKER_CONTEXT: "colima", DOCKER_HOST: "unix:///var/run/docker.sock" }]) {
            const { run } = fakeDocker({ contexts: { colima: { host: "unix:///c.sock" } }, daemons: { "unix:///c.sock": LINUX } }, env);
            expect(dockerPreflight(run, env).problems).toEqual([
                "docker: DOCKER_CONTEXT=colima is set; the Pulumi docker provider would run containers on that context but build images on DOCKER_HOST or the default socket (two daemons); unset DOCKER_CONTEXT and select the context with `docker context use colima`",
            ]);
        }
    });

    it("names a context that does not exist", () => {
        const { run } = fakeDocker({ current: "gone", daemons: {} });
        expect(dockerPreflight(run, {}).problems).toEqual([
            "docker: cannot tell which daemon the docker CLI uses (`docker context inspect` failed: context \"gone\": context not found: open /home/alice/.docker/contexts/meta/x/meta.json: no such file or directory); check `docker context ls` and select a context with `docker context use <name>`",
        ]);
    });

    it("refuses a context with TLS files, which the provider cannot read", () => {
        const { run } = fakeDocker({ contexts: { remote: { host: "tcp://10.0.0.5:2376", tls: true } }, current: "remote", daemons: {} });
        expect(dockerPreflight(run, {}).problems).toEqual([
            "docker: context \"remote\" (tcp://10.0.0.5:2376) connects with TLS files from the docker CLI's context store, which the Pulumi docker provider cannot read; use a context without TLS, or set DOCKER_HOST, DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH instead",
        ]);
    });

    it("refuses a daemon on another machine for kind stacks only", () => {
        const machine: FakeMachine = { contexts: { box: { host: "ssh://alice@build-box" } }, current: "box", daemons: { "ssh://alice@build-box": LINUX } };
        expect(dockerPreflight(fakeDocker(machine).run, {}, KIND).problems).toEqual([
            "docker: the daemon at ssh://alice@build-box (context \"box\") is on another machine; kind's API server and the local registry listen on 127.0.0.1 there, out of this machine's reach; use a local Docker (`docker context use default`, or Docker Desktop's, Colima's or Rancher Desktop's context)",
        ]);
        // Image builds for EKS can use it, given to the docker provider as DOCKER_HOST.
        expect(dockerPreflight(fakeDocker(machine, { DOCKER_HOST: "ssh://alice@build-box" }).run, { DOCKER_HOST: "ssh://alice@build-box" }).problems).toEqual([]);
        expect(["unix:///x.sock", "npipe:////./pipe/docker_engine", "tcp://127.0.0.1:2375", "tcp://localhost:2375", "tcp://[::1]:2375"].map(isLocalEndpoint)).toEqual([true, true, true, true, true]);
        expect(["tcp://10.0.0.5:2376", "ssh://box", "fd://"].map(isLocalEndpoint)).toEqual([false, false, false]);
    });

    it("names the endpoint it could not reach, and where it came from", () => {
        const { run } = fakeDocker({ contexts: { colima: { host: "unix:///Users/alice/.colima/default/docker.sock" } }, current: "colima", daemons: {} });
        expect(dockerPreflight(run, {}, KIND).problems).toEqual([
            "docker: the daemon at unix:///Users/alice/.colima/default/docker.sock (context \"colima\") is not reachable (Cannot connect to the Docker daemon at unix:///Users/alice/.colima/default/docker.sock. Is the docker daemon running?); start Docker Desktop, Colima or Rancher Desktop, or on Linux `sudo systemctl start docker` and make sure your user may use it (`docker info` must work)",
        ]);
    });

    it("counts a daemon that answers only with server errors as unreachable (docker info exits 0 then)", () => {
        const { run } = fakeDocker({ daemons: { "unix:///var/run/docker.sock": { permissionDenied: true } } });
        expect(inspectDockerDaemon(run, { host: "unix:///var/run/docker.sock", source: 'context "default"' }).problem).toMatch(
            /^docker: the daemon at unix:\/\/\/var\/run\/docker\.sock \(context "default"\) is not reachable \(permission denied while trying to connect to the docker API at unix:\/\/\/var\/run\/docker\.sock\)/,
        );
    });
});

describe("stacks that only build images keep the docker provider's default endpoint, if it reaches the CLI's daemon", () => {
    // pulumi-docker v4.11.2 provider/image.go configureDockerClient: with no host, DOCKER_HOST, else
    // unix:///var/run/docker.sock, then ~/.docker/run/docker.sock, then ~/.docker/desktop/docker.sock.
    const HOME = { HOME: "/Users/alice" };
    const DESKTOP = "unix:///Users/alice/.docker/run/docker.sock";
    const COLIMA = "unix:///Users/alice/.colima/default/docker.sock";

    it("passes when the CLI uses the default socket, or DOCKER_HOST", () => {
        expect(dockerPreflight(fakeDocker({ daemons: { "unix:///var/run/docker.sock": LINUX } }, HOME).run, HOME).problems).toEqual([]);
        const env = { ...HOME, DOCKER_HOST: COLIMA };
        expect(dockerPreflight(fakeDocker({ daemons: { [COLIMA]: LINUX, "unix:///var/run/docker.sock": daemonInfo("other") } }, env).run, env).problems).toEqual([]);
    });

    it("passes for Docker Desktop, whose context socket and /var/run/docker.sock are one daemon", () => {
        const desktop = daemonInfo("desktop");
        const machine: FakeMachine = { contexts: { "desktop-linux": { host: DESKTOP } }, current: "desktop-linux", daemons: { [DESKTOP]: desktop, "unix:///var/run/docker.sock": desktop } };
        expect(dockerPreflight(fakeDocker(machine, HOME).run, HOME).problems).toEqual([]);
        // Without the default socket, the provider falls back to the same one.
        expect(dockerPreflight(fakeDocker({ ...machine, daemons: { [DESKTOP]: desktop } }, HOME).run, HOME).problems).toEqual([]);
    });

    it("names the daemon the provider would use instead, with the fix", () => {
        const machine: FakeMachine = { contexts: { colima: { host: COLIMA } }, current: "colima", daemons: { [COLIMA]: daemonInfo("colima"), "unix:///var/run/docker.sock": daemonInfo("desktop") } };
        expect(dockerPreflight(fakeDocker(machine, HOME).run, HOME).problems).toEqual([
            `docker: the Pulumi docker provider would build images on the daemon at unix:///var/run/docker.sock, not on the docker CLI's at ${COLIMA} (context "colima"); export DOCKER_HOST=${COLIMA} (the docker CLI's, context "colima") before \`pulumi\``,
        ]);
        expect(dockerPreflight(fakeDocker({ ...machine, daemons: { [COLIMA]: daemonInfo("colima") } }, HOME).run, HOME).problems).toEqual([
            `docker: the Pulumi docker provider would find no daemon (it tries DOCKER_HOST, then unix:///var/run/docker.sock, unix:///Users/alice/.docker/run/docker.sock, unix:///Users/alice/.docker/desktop/docker.sock), while the docker CLI uses ${COLIMA} (context "colima"); export DOCKER_HOST=${COLIMA} (the docker CLI's, context "colima") before \`pulumi\``,
        ]);
    });

    it("leaves staging and prod on the default provider: no machine's socket path in their state", async () => {
        for (const stack of ["staging", "prod"]) {
            const p = await runStack(stack);
            expect(p.ofType("pulumi:providers:docker"), stack).toEqual([]);
            for (const img of p.ofType("docker:index/image:Image")) expect(img.options.provider, img.name).toBe("");
        }
    });
});

describe("the program's docker provider and kind use the daemon the doctor checked", () => {
    const COLIMA = "unix:///Users/alice/.colima/default/docker.sock";
    const machine: FakeMachine = { contexts: { colima: { host: COLIMA } }, current: "colima", daemons: { [COLIMA]: LINUX } };

    it("gives the provider, every docker resource of the kind cluster and kind itself the same host", async () => {
        const settings = parseSettings({}, "kubeforge", "dev");
        // The doctor, over the fake CLI.
        const doctor = fakeDocker(machine);
        expect(stackPrerequisites(doctor.run, {}, stackNeeds(settings)).filter((l) => !l.startsWith("pulumi:"))).toEqual([]);
        const checked = infoHosts(doctor.calls);
        expect(checked).toEqual([COLIMA]);

        // The program, over the same fake CLI.
        const program = fakeDocker(machine);
        const run = await runUnderMocks("dev", {}, async () => {
            const host = new DockerHost("docker", { settings, preflight: () => machinePreflight(program.run, {}, stackNeeds(settings)) });
            new KindCluster("solo", { settings, docker: { provider: host.provider!, daemon: host.daemon } });
            return {};
        });
        const provider = run.resources.find((r) => r.type === "pulumi:providers:docker")!;
        expect(provider.inputs.host).toBe(checked[0]);
        const dockerResources = run.resources.filter((r) => r.custom && r.type.startsWith("docker:"));
        expect(dockerResources.map((r) => r.type).sort()).toEqual([
            "docker:index/container:Container", "docker:index/container:Container", "docker:index/remoteImage:RemoteImage", "docker:index/remoteImage:RemoteImage", "docker:index/volume:Volume",
        ]);
        for (const r of dockerResources) expect(r.options.provider, r.name).toMatch(/::docker-provider::/);
        const cmd = run.resources.find((r) => r.type === "command:local:Command") as RecordedResource;
        expect((cmd.inputs.environment as Record<string, string>).DOCKER_HOST).toBe(checked[0]);
    });

    it("stops the program with the doctor's lines before declaring anything", async () => {
        const settings = parseSettings({}, "kubeforge", "dev");
        const down = fakeDocker({ ...machine, daemons: {} });
        let error: unknown;
        const run = await runUnderMocks("dev", {}, async () => {
            try {
                new DockerHost("docker", { settings, preflight: () => machinePreflight(down.run, {}, stackNeeds(settings)) });
            } catch (err) {
                error = err;
            }
            return {};
        });
        expect((error as Error).message).toBe(stackPrerequisites(fakeDocker({ ...machine, daemons: {} }).run, {}, stackNeeds(settings)).filter((l) => !l.startsWith("pulumi:")).join("\n"));
        expect(run.resources.filter((r) => r.type !== "kubeforge:docker:DockerHost")).toEqual([]);
    });
});

describe("cgroup v1 (kind v0.31.0 release notes: node images for Kubernetes 1.35+ need cgroup v2)", () => {
    const daemon = (cgroupVersion?: string): DockerDaemon => ({ endpoint: { host: "unix:///var/run/docker.sock", source: 'context "default"' }, id: "d", serverVersion: "24.0.7", kernelVersion: "5.4.0", name: "laptop", architecture: "x86_64", ...(cgroupVersion ? { cgroupVersion } : {}) });
    const image = (tag: string) => `kindest/node:${tag}@sha256:${"a".repeat(64)}`;

    it("reads the Kubernetes minor from the node image's tag", () => {
        expect(nodeImageMinor(image("v1.37.0"))).toBe(37);
        expect(nodeImageMinor(image("v1.34.11"))).toBe(34);
        expect(nodeImageMinor(`kindest/node@sha256:${"a".repeat(64)}`)).toBeUndefined();
    });

    it("stops a cgroup v1 host before kind create cluster, with the fix", () => {
        expect(checkCgroup(daemon("1"), image("v1.37.0"))).toEqual([
            "docker: the daemon at unix:///var/run/docker.sock runs cgroup v1, and kind's node images for Kubernetes 1.35 and later need cgroup v2 (kind v0.31.0 release notes), so `kind create cluster` would fail with kubeforge:cluster.kind.nodeImage v1.37.0; switch the Docker host to cgroup v2 (boot Linux with systemd.unified_cgroup_hierarchy=1; Docker Desktop, Colima and current Ubuntu, Debian and Fedora use it already), or pin a Kubernetes 1.34 node image from kind's release notes",
        ]);
        expect(checkCgroup(daemon("1"), image("v1.35.8"))).toHaveLength(1);
    });

    it("lets cgroup v1 run a node image older than 1.35, and does not guess where the daemon does not say", () => {
        expect(checkCgroup(daemon("1"), image("v1.34.11"))).toEqual([]);
        expect(checkCgroup(daemon("2"), image("v1.37.0"))).toEqual([]);
        // moby fills CgroupVersion only on Unix daemons (docker-v29.7.2 daemon/info_unix.go), `json:",omitempty"`.
        expect(checkCgroup(daemon(), image("v1.37.0"))).toEqual([]);
    });

    it("reads CgroupVersion from docker info's JSON (moby docker-v29.7.2 api/types/system/info.go)", () => {
        const { run } = fakeDocker({ daemons: { "unix:///var/run/docker.sock": { ...LINUX, CgroupVersion: "1" } } });
        expect(dockerPreflight(run, {}, KIND).problems).toEqual([expect.stringMatching(/^docker: the daemon at unix:\/\/\/var\/run\/docker\.sock runs cgroup v1/)]);
        // Stacks without kind build images only, which cgroup v1 does not stop.
        expect(dockerPreflight(run, {}).problems).toEqual([]);
    });
});

describe("rootless Docker (moby docker-v29.7.2 daemon/info.go: SecurityOptions name=rootless)", () => {
    const rootless = { ...LINUX, SecurityOptions: ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"] };
    const endpoint = "unix:///run/user/1000/docker.sock";

    it("stops a kind stack with one line and the fix", () => {
        const { run } = fakeDocker({ daemons: { [endpoint]: rootless } }, { DOCKER_HOST: endpoint });
        expect(dockerPreflight(run, { DOCKER_HOST: endpoint }, KIND, LINUX_HOST).problems).toEqual([
            "docker: the daemon at unix:///run/user/1000/docker.sock (DOCKER_HOST) runs rootless, which the kind stack does not support (cloud-provider-kind needs the daemon's /var/run/docker.sock, and rootless containers' addresses are out of this machine's reach); use rootful Docker Engine (`docker context use default` with the system daemon running), Docker Desktop, Colima or Rancher Desktop",
        ]);
    });

    it("lets stacks that only build images use it, and passes a rootful daemon", () => {
        const { run } = fakeDocker({ daemons: { [endpoint]: rootless } }, { DOCKER_HOST: endpoint });
        expect(dockerPreflight(run, { DOCKER_HOST: endpoint }, undefined, LINUX_HOST).problems).toEqual([]);
        expect(dockerPreflight(fakeDocker({ daemons: { "unix:///var/run/docker.sock": { ...LINUX, SecurityOptions: ["name=seccomp,profile=builtin"] } } }).run, {}, KIND, LINUX_HOST).problems).toEqual([]);
    });
});

describe("WSL2 (cloud-provider-kind v0.11.1 cmd/app.go isWSL2: /proc/version contains WSL2)", () => {
    it("recognises a WSL2 kernel release in docker info's KernelVersion", () => {
        expect(daemonIsWsl2({ kernelVersion: "5.15.153.1-microsoft-standard-WSL2" })).toBe(true);
        expect(daemonIsWsl2({ kernelVersion: "6.10.14-linuxkit" })).toBe(false);
        expect(daemonIsWsl2({ kernelVersion: "6.8.0-45-generic" })).toBe(false);
    });
});

describe("a daemon on this machine or in a VM (whether the kind network is routable from here)", () => {
    it("reads the kernel release as moby reports it (docker-v29.7.2 pkg/parsers/kernel kernel_unix_test.go TestParseRelease)", () => {
        for (const release of ["3.8.0", "3.4.54.longterm-1", "3.8.0-19-generic", "3.10.0-862.2.3.el7.x86_64", "3.12.8tag", "5.15.153.1-microsoft-standard-WSL2"]) {
            expect(kernelRelease(release)).toBe(release);
        }
        // VersionInfo.String always prints three numbers.
        expect(kernelRelease("3.12-1-amd64")).toBe("3.12.0-1-amd64");
        for (const invalid of ["3", "a", "a.a", "a.a.a-a"]) expect(kernelRelease(invalid)).toBe("");
    });

    const daemon = (kernelVersion: string, name: string) => ({ kernelVersion, name });
    it("is here for Docker Engine on this Linux machine: its kernel and host name are ours", () => {
        expect(daemonRunsHere(daemon("6.8.0-45-generic", "laptop"), LINUX_HOST)).toBe(true);
        expect(daemonRunsHere(daemon("3.12.0-1-amd64", "laptop"), { ...LINUX_HOST, release: "3.12-1-amd64" })).toBe(true);
    });

    it("is in a VM for Docker Desktop (macOS, Windows, Linux), Colima, Rancher Desktop and Docker Desktop's WSL2 distribution", () => {
        expect(daemonRunsHere(daemon("6.10.14-linuxkit", "docker-desktop"), MAC)).toBe(false);
        expect(daemonRunsHere(daemon("6.10.14-linuxkit", "docker-desktop"), LINUX_HOST)).toBe(false);
        // Colima's VM may run the same Ubuntu kernel as the host; its host name is its own.
        expect(daemonRunsHere(daemon("6.8.0-45-generic", "colima"), LINUX_HOST)).toBe(false);
        expect(daemonRunsHere(daemon("6.6.63-0-virt", "lima-rancher-desktop"), LINUX_HOST)).toBe(false);
        // In WSL2 every distribution shares the kernel; Docker Desktop's daemon is in its own.
        const wsl: HostMachine = { platform: "linux", release: "5.15.153.1-microsoft-standard-WSL2", hostname: "DESKTOP-4F2K9" };
        expect(daemonRunsHere(daemon("5.15.153.1-microsoft-standard-WSL2", "docker-desktop"), wsl)).toBe(false);
        // A daemon that did not say is not taken for ours.
        expect(daemonRunsHere(daemon("", "laptop"), { ...LINUX_HOST, release: "" })).toBe(false);
    });

    it("reads the daemon's host name and architecture from docker info's JSON (moby docker-v29.7.2 daemon/info.go: hostName is os.Hostname, Architecture uname's machine)", () => {
        const { run } = fakeDocker({ daemons: { "unix:///var/run/docker.sock": { ...LINUX, Name: "docker-desktop", KernelVersion: "6.10.14-linuxkit", Architecture: "aarch64" } } });
        expect(inspectDockerDaemon(run, { host: "unix:///var/run/docker.sock", source: "test" }).value).toMatchObject({ name: "docker-desktop", kernelVersion: "6.10.14-linuxkit", architecture: "aarch64" });
    });
});

describe("the platform of the daemon's containers (what kind's nodes run)", () => {
    it("is linux/<GOARCH> of the architecture moby reports, uname's names (daemon/internal/platform runtimeArchitecture)", () => {
        expect(["x86_64", "aarch64", "arm64", "armv7l", "ppc64le", "s390x", "riscv64"].map((architecture) => daemonPlatform({ architecture })))
            .toEqual(["linux/amd64", "linux/arm64", "linux/arm64", "linux/arm", "linux/ppc64le", "linux/s390x", "linux/riscv64"]);
        expect(daemonPlatform({ architecture: "" })).toBeUndefined();
        expect(daemonPlatform({ architecture: "sparc64" })).toBeUndefined();
    });
});

describe("the Docker host a kind stack shares", () => {
    const HOST = "unix:///var/run/docker.sock";
    const ps = (...lines: string[][]) => fakeDocker({ daemons: { [HOST]: LINUX }, containers: { [HOST]: lines.map((l) => l.join("\t")) } });
    const own = [
        ["kubeforge-dev-control-plane", "", "", "kubeforge-dev", "127.0.0.1:41234->6443/tcp"],
        ["kubeforge-dev-registry", "", "", "", "127.0.0.1:5001->5000/tcp"],
        ["kubeforge-dev-cloud-provider-kind", "kubeforge-dev", "", "", ""],
        ["kindccm-0a1b2c3d4e5f", "", "kubeforge-dev", "", "0.0.0.0:8081->8081/tcp, [::]:8081->8081/tcp, 0.0.0.0:55001->10000/tcp"],
    ];

    it("reads host ports from docker ps (docker/cli v29.7.2 formatter DisplayablePorts)", () => {
        expect(publishedHostPorts("0.0.0.0:8081->8081/tcp, [::]:8081->8081/tcp, 0.0.0.0:55001->10000/tcp, 10000/tcp")).toEqual([8081, 8081, 55001]);
        expect(publishedHostPorts("0.0.0.0:8081-8083->8081-8083/tcp")).toEqual([8081, 8082, 8083]);
        expect(publishedHostPorts("")).toEqual([]);
    });

    it("is fine with this stack's own containers", () => {
        expect(dockerPreflight(ps(...own).run, {}, KIND, MAC).problems).toEqual([]);
    });

    it("stops a second stack's cloud-provider-kind (one serves every kind cluster on the host)", () => {
        expect(dockerPreflight(ps(...own, ["kubeforge-alice-cloud-provider-kind", "kubeforge-alice", "", "", ""]).run, {}, KIND, LINUX_HOST).problems).toEqual([
            "kind: the cloud-provider-kind of kind cluster kubeforge-alice runs (container kubeforge-alice-cloud-provider-kind); one serves every kind cluster on this Docker host, two fight over the load balancers and stopping either deletes every cluster's; run one kind stack at a time: `pulumi destroy` that stack, or `docker stop kubeforge-alice-cloud-provider-kind`",
        ]);
    });

    it("names another container holding the registry's port, as kind's own local-registry guide's does (127.0.0.1:5001)", () => {
        const guide = ps(...own.filter(([name]) => name !== "kubeforge-dev-registry"), ["kind-registry", "", "", "", "127.0.0.1:5001->5000/tcp"]);
        expect(dockerPreflight(guide.run, {}, { ...KIND, registryPort: 5001 }, LINUX_HOST).problems).toEqual([
            "kind: host port 5001, the local registry's, is taken by container kind-registry; stop it (`docker stop kind-registry`), or set kubeforge:cluster.kind.registryPort to a free port",
        ]);
        // This stack's own registry holds it rightly.
        expect(dockerPreflight(ps(...own).run, {}, { ...KIND, registryPort: 5001 }, LINUX_HOST).problems).toEqual([]);
    });

    it("names a container holding a load-balancer port where ports are published", () => {
        const taken = ps(...own, ["kindccm-ffffffffffff", "", "kubeforge-alice", "", "0.0.0.0:8082->8082/tcp"], ["web", "", "", "", "0.0.0.0:8083->80/tcp"]);
        expect(dockerPreflight(taken.run, {}, KIND, MAC).problems).toEqual([
            "kind: host port 8082, messages's load balancer's, is taken by container kindccm-ffffffffffff; stop it, or set kubeforge:cluster.kind.lbPortBase so this stack's ports (8081–8083) miss it",
            "kind: host port 8083, reports's load balancer's, is taken by container web; stop it, or set kubeforge:cluster.kind.lbPortBase so this stack's ports (8081–8083) miss it",
        ]);
        // On Linux without port mapping nothing is published, so nothing collides.
        expect(dockerPreflight(taken.run, {}, KIND, LINUX_HOST).problems).toEqual([]);
        expect(dockerPreflight(taken.run, {}, { ...KIND, lbPortMapping: true }, LINUX_HOST).problems).toHaveLength(2);
        // Docker Desktop on Linux runs its daemon in a VM: ports are published there too.
        expect(dockerPreflight(taken.run, {}, KIND, { ...LINUX_HOST, hostname: "ubuntu-laptop", release: "6.14.0-27-generic" }).problems).toHaveLength(2);
    });
});
