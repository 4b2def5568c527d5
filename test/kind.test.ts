/**
 * The kind flavour under Pulumi mocks: what `pulumi up -s dev` would declare (the kind cluster
 * command and its generated config, the local registry, cloud-provider-kind, metrics-server with
 * kind's flag, image builds and the digests Deployments run, a host port per load balancer), the
 * cluster command's shell script run against a fake `kind`, and config validation of
 * `cluster.kind`.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CLOUD_PROVIDER_KIND_IMAGE, ipv4Subnet, KindCluster, REGISTRY_IMAGE } from "../components/cluster/kind/kind";
import { runningUnderMocks } from "../components/runtime";
import { KIND_NODE_IMAGE, kindClusterName } from "../components/cluster/kind/config";
import { defaultPlatform } from "../components/image";
import { ConfigError, parseSettings, type RawConfig } from "../components/config";
import { DockerHost, MOCK_DOCKER_DAEMON } from "../components/docker-host";
import type { DockerDaemon, HostMachine } from "../components/docker-endpoint";
import { PROJECT_ROOT } from "../scripts/stack-files";
import { runUnderMocks, type RecordedResource } from "../scripts/mocks";
import { at, runStack, type Program } from "./harness";
import { validateK8s } from "./validate";

const outsideMocks = runningUnderMocks();

const COMMAND = "command:local:Command";
const CONTAINER = "docker:index/container:Container";
const REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";
const IMAGE = "docker:index/image:Image";

interface KindNode {
    role: string;
    image: string;
    extraMounts: { hostPath: string; containerPath: string; readOnly?: boolean }[];
}
interface KindConfig {
    kind: string;
    apiVersion: string;
    containerdConfigPatches: string[];
    nodes: KindNode[];
}

/** The cluster command's inputs, and the kind config it feeds `kind create cluster`. */
function clusterCommand(p: Program): { cmd: RecordedResource; env: Record<string, string>; config: KindConfig } {
    const [cmd, ...rest] = p.ofType(COMMAND);
    expect(rest).toHaveLength(0);
    return { cmd: cmd!, env: cmd!.inputs.environment as Record<string, string>, config: parse(String(cmd!.inputs.stdin)) as KindConfig };
}

const dependsOn = (r: RecordedResource, name: string): boolean => r.options.dependencies.some((u) => u.endsWith(`::${name}`));

/** The container whose name ends with a suffix, and the image it runs. */
function container(p: Program, suffix: string): { inputs: Record<string, unknown>; dependencies: string[]; imageName: string } {
    const found = p.ofType(CONTAINER).filter((c) => String(c.inputs.name).endsWith(suffix));
    expect(found).toHaveLength(1);
    const c = found[0]!;
    // The container runs the image ID of the RemoteImage it depends on.
    const images = p.ofType(REMOTE_IMAGE).filter((i) => dependsOn(c, i.name));
    expect(images).toHaveLength(1);
    return { inputs: c.inputs, dependencies: c.options.dependencies, imageName: String(images[0]!.inputs.name) };
}

describe("dev stack (defaults)", () => {
    let p: Program;
    beforeAll(async () => {
        p = await runStack("dev");
    });

    it("creates one control plane and two workers, all on the pinned node image", () => {
        const { config } = clusterCommand(p);
        expect(config.kind).toBe("Cluster");
        expect(config.apiVersion).toBe("kind.x-k8s.io/v1alpha4");
        expect(config.nodes.map((n) => n.role)).toEqual(["control-plane", "worker", "worker"]);
        for (const n of config.nodes) expect(n.image).toBe(KIND_NODE_IMAGE);
        expect(KIND_NODE_IMAGE).toMatch(/^kindest\/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    });

    it("points containerd at certs.d and mounts the hosts dir, relative to where the script runs kind, into every node", () => {
        const { config, env } = clusterCommand(p);
        expect(config.containerdConfigPatches).toHaveLength(1);
        const patch = config.containerdConfigPatches[0]!;
        expect(patch).toMatch(/^\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\]\s*\n\s*config_path = "\/etc\/containerd\/certs\.d"$/);
        for (const n of config.nodes) {
            // kind makes a relative hostPath absolute against its working directory (kind v0.32.0
            // pkg/cluster/internal/providers/docker/provision.go); the script runs it in the state dir.
            expect(n.extraMounts).toEqual([{ hostPath: "certs.d", containerPath: "/etc/containerd/certs.d", readOnly: true }]);
        }
        expect(env).toEqual({
            CLUSTER: "kubeforge-dev",
            REGISTRY_HOST: "localhost:5001",
            HOSTS_TOML: '[host."http://kubeforge-dev-registry:5000"]\n',
            DOCKER_HOST: MOCK_DOCKER_DAEMON.endpoint.host,
        });
    });

    it("carries neither the checkout's path nor the home directory in any input, so moving the checkout changes nothing", () => {
        const { cmd } = clusterCommand(p);
        const inputs = JSON.stringify(cmd.inputs);
        expect(inputs).not.toContain(PROJECT_ROOT);
        expect(inputs).not.toContain(process.cwd());
        expect(inputs).not.toContain(homedir());
    });

    it("replaces the cluster (old one first) only when nodes, image or registry port change, and keeps the kubeconfig secret", () => {
        // pulumi-command v1.2.1: `triggers` is replaceOnChanges (provider/pkg/provider/common/inputs.go),
        // every other input change is an update, which runs `update`, or `create` again when `update`
        // is unset (provider/pkg/provider/local/commandController.go Update).
        const { cmd } = clusterCommand(p);
        expect(cmd.inputs.triggers).toEqual([2, KIND_NODE_IMAGE, 5001]);
        // The SDK adds it for the schema's replaceOnChanges (@pulumi/command 1.2.1 local/command.js);
        // nothing else, so a script, stdin or environment change is an update.
        expect(cmd.options.replaceOnChanges).toEqual(["triggers[*]"]);
        expect(cmd.options.deleteBeforeReplace).toBe(true);
        expect(cmd.inputs.update).toBe(cmd.inputs.create);
        expect(cmd.options.additionalSecretOutputs).toEqual(["stdout"]);
        expect(cmd.inputs.logging).toBe("stderr");
    });

    it("gives every Kubernetes object a provider built from the cluster's kubeconfig", () => {
        const provider = p.named("pulumi:providers:kubernetes", "kubeforge-dev-k8s");
        expect(dependsOn(provider, "kubeforge-dev-cluster")).toBe(true);
        // Provider inputs reach the engine as strings.
        expect(String(provider.inputs.deleteUnreachable)).toBe("true");
        const k8sObjects = p.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers"));
        expect(k8sObjects.length).toBeGreaterThan(10);
        for (const r of k8sObjects) expect(r.options.provider, r.name).toContain("::kubeforge-dev-k8s::");
    });

    // registry:2.8.3 is built by distribution/distribution-library-image (commit 6ab34a76, "Release
    // new DOI for registry"): EXPOSE 5000, VOLUME /var/lib/registry, and config-example.yml serves
    // plain HTTP on :5000 from storage.filesystem.rootdirectory /var/lib/registry, so the nodes'
    // hosts.toml says http:// and the volume is mounted there.
    it("runs the registry from a pinned registry:2.8.x image on 127.0.0.1:5001, on the kind network, after the cluster", () => {
        const reg = container(p, "-registry");
        expect(REGISTRY_IMAGE).toMatch(/^registry:2\.8\.\d+$/);
        expect(reg.imageName).toBe(REGISTRY_IMAGE);
        expect(reg.inputs.name).toBe("kubeforge-dev-registry");
        expect(reg.inputs.ports).toEqual([{ internal: 5000, external: 5001, ip: "127.0.0.1" }]);
        expect(reg.inputs.networksAdvanced).toEqual([{ name: "kind" }]);
        expect(reg.inputs.volumes).toEqual([{ volumeName: "kubeforge-dev-registry-data", containerPath: "/var/lib/registry" }]);
        expect(reg.dependencies.some((u) => u.endsWith("::kubeforge-dev-cluster"))).toBe(true);
    });

    it("runs cloud-provider-kind from its pinned official image with the Docker socket, on the kind network, labelled for the doctor", () => {
        const cpk = container(p, "-cloud-provider-kind");
        expect(CLOUD_PROVIDER_KIND_IMAGE).toMatch(/^registry\.k8s\.io\/cloud-provider-kind\/cloud-controller-manager:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
        expect(cpk.imageName).toBe(CLOUD_PROVIDER_KIND_IMAGE);
        expect(cpk.inputs.volumes).toEqual([{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }]);
        expect(cpk.inputs.networksAdvanced).toEqual([{ name: "kind" }]);
        expect(cpk.inputs.restart).toBe("unless-stopped");
        expect(cpk.inputs.labels).toEqual([{ label: "kubeforge.cloud-provider-kind", value: "kubeforge-dev" }]);
    });

    it("creates every docker resource, images included, with the one checked daemon's provider", () => {
        const provider = p.named("pulumi:providers:docker", "docker-provider");
        expect(provider.inputs.host).toBe(MOCK_DOCKER_DAEMON.endpoint.host);
        const dockerResources = p.resources.filter((r) => r.custom && r.type.startsWith("docker:"));
        expect(dockerResources.filter((r) => r.type === IMAGE)).toHaveLength(3);
        for (const r of dockerResources) expect(r.options.provider, r.name).toContain("::docker-provider::");
    });

    it("publishes the registry in kube-public/local-registry-hosting as KEP-1755 says", () => {
        const cms = p.k8s("ConfigMap", "local-registry-hosting");
        expect(cms).toHaveLength(1);
        const cm = cms[0]!;
        validateK8s({ ...cm, apiVersion: "v1", kind: "ConfigMap" });
        expect(cm.metadata?.namespace).toBe("kube-public");
        const hosting = parse(String((cm.data as Record<string, string>)["localRegistryHosting.v1"]));
        expect(hosting).toEqual({ host: "localhost:5001", help: "https://kind.sigs.k8s.io/docs/user/local-registry/" });
    });

    it("installs metrics-server with --kubelet-insecure-tls (kind's kubelets are self-signed)", () => {
        const release = p.named("kubernetes:helm.sh/v3:Release", "platform-metrics-server");
        expect(at<string[]>(release.inputs, "values.args")).toContain("--kubelet-insecure-tls");
    });

    it("builds each service for this machine and pushes it to localhost:5001 once the registry runs", () => {
        const images = p.ofType(IMAGE);
        expect(images.map((i) => i.parent).sort()).toEqual(["backend", "messages", "reports"]);
        for (const img of images) {
            expect(String(img.inputs.imageName)).toMatch(new RegExp(`^localhost:5001/${img.parent}:[0-9a-f]{16}$`));
            // Explicit, so that it is part of the tag: the daemon's (the mocks' stands for this machine's).
            expect(at(img.inputs, "build.platform")).toBe(defaultPlatform());
            expect(img.inputs.registry).toBeUndefined();
            expect(dependsOn(img, "kubeforge-dev-registry")).toBe(true);
        }
    });

    it("runs each Deployment on the digest that was pushed", () => {
        for (const svc of ["backend", "messages", "reports"]) {
            const deployments = p.k8s("Deployment", svc);
            expect(deployments, svc).toHaveLength(1);
            const deployment = deployments[0]!;
            const image = at<string>(deployment, "spec.template.spec.containers.0.image");
            expect(image).toMatch(new RegExp(`^localhost:5001/${svc}@sha256:[0-9a-f]{64}$`));
            expect(dependsOn(p.resources.find((r) => r.inputs === deployment)!, `${svc}-image`)).toBe(true);
        }
    });

    it("makes platform and services wait for the cluster and cloud-provider-kind", () => {
        for (const name of ["platform", "backend", "messages", "reports"]) {
            const component = p.resources.find((r) => r.name === name && !r.custom && r.type !== "kubeforge:image:ServiceImage")!;
            expect(dependsOn(component, "kubeforge-dev-cluster"), name).toBe(true);
            expect(dependsOn(component, "kubeforge-dev-cloud-provider-kind"), name).toBe(true);
        }
    });

    it("exports the kind cluster's name, its kubeconfig context and the local registry", () => {
        expect(p.run.outputs.cluster).toEqual({ flavour: "kind", name: "kubeforge-dev", kubeconfigContext: "kind-kubeforge-dev", registry: "localhost:5001" });
    });
});

describe("dev stack with overrides", () => {
    it("follows workers, node image and registry port", async () => {
        const nodeImage = `kindest/node:v1.36.4@sha256:${"0".repeat(64)}`;
        const p = await runStack("dev", { "kubeforge:cluster": { kind: { workers: 4, nodeImage, registryPort: 5123 } } });
        const { config, env, cmd } = clusterCommand(p);
        expect(config.nodes.map((n) => n.role)).toEqual(["control-plane", "worker", "worker", "worker", "worker"]);
        for (const n of config.nodes) expect(n.image).toBe(nodeImage);
        expect(cmd.inputs.triggers).toEqual([4, nodeImage, 5123]);
        expect(env.REGISTRY_HOST).toBe("localhost:5123");
        expect(container(p, "-registry").inputs.ports).toEqual([{ internal: 5000, external: 5123, ip: "127.0.0.1" }]);
        expect(parse(String((p.k8s("ConfigMap", "local-registry-hosting")[0]!.data as Record<string, string>)["localRegistryHosting.v1"]))).toMatchObject({ host: "localhost:5123" });
        for (const img of p.ofType(IMAGE)) expect(String(img.inputs.imageName)).toMatch(/^localhost:5123\//);
    });

    it("builds no image for a service with a prebuilt image, and deploys that image as given", async () => {
        const p = await runStack("dev", { "kubeforge:services": { search: { image: "ghcr.io/acme/search:1.4.2" } } });
        expect(p.ofType(IMAGE).map((i) => i.parent).sort()).toEqual(["backend", "messages", "reports"]);
        const search = p.k8s("Deployment", "search");
        expect(search).toHaveLength(1);
        expect(at(search[0], "spec.template.spec.containers.0.image")).toBe("ghcr.io/acme/search:1.4.2");
    });

    it("follows an explicit lbPortMapping", async () => {
        const on = await runStack("dev", { "kubeforge:cluster": { kind: { lbPortMapping: true } } });
        expect(container(on, "-cloud-provider-kind").inputs.command).toEqual(["--enable-lb-port-mapping"]);
        const off = await runStack("dev", { "kubeforge:cluster": { kind: { lbPortMapping: false } } });
        expect(container(off, "-cloud-provider-kind").inputs.command).toBeUndefined();
    });

    it("stops with the config's one-line message before declaring anything", async () => {
        await expect(runStack("dev", { "kubeforge:cluster": { kind: { workers: 0 } } }))
            .rejects.toThrow(/^kubeforge:cluster\.kind\.workers: 0 must be at least 1 \(load balancers only send traffic to worker nodes\)$/);
    });
});

describe("the cluster command's script, against a fake kind", () => {
    let work: string;
    let home: string;
    let cmd: RecordedResource;
    const KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []";
    const state = () => join(home, ".kubeforge", "kubeforge-dev");

    beforeAll(async () => {
        work = mkdtempSync(join(tmpdir(), "kubeforge-kind-"));
        const bin = join(work, "bin");
        mkdirSync(bin);
        // Records its arguments, working directory and stdin; `create` chatters on stdout, as the
        // real one may, and adds the cluster to what `get clusters` lists (one name per line).
        writeFileSync(join(bin, "kind"), [
            "#!/bin/sh",
            `echo "$*" >> "${work}/args"`,
            `case "$1 $2" in`,
            `  "create cluster") pwd > "${work}/cwd"; cat > "${work}/config.yaml"; echo "Creating cluster $4 ..."; [ -z "$FAIL" ] || exit 1; echo "$4" >> "${work}/clusters";;`,
            `  "get clusters") [ -n "$DOWN" ] && { echo "ERROR: failed to list clusters: command docker ps failed" >&2; exit 1; }; cat "${work}/clusters" 2>/dev/null || echo "No kind clusters found." >&2;;`,
            `  "get kubeconfig") cat "${work}/kubeconfig";;`,
            `  "delete cluster") [ -n "$DOWN" ] && { echo "ERROR: failed to delete cluster: error listing nodes" >&2; exit 1; }; rm -f "${work}/clusters";;`,
            "esac",
        ].join("\n"));
        chmodSync(join(bin, "kind"), 0o755);
        writeFileSync(join(work, "kubeconfig"), `${KUBECONFIG}\n`);
        cmd = clusterCommand(await runStack("dev")).cmd;
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));
    beforeEach(() => {
        for (const f of ["args", "cwd", "config.yaml", "clusters"]) rmSync(join(work, f), { force: true });
        home = mkdtempSync(join(work, "home-"));
    });

    function sh(script: string, extraEnv: Record<string, string> = {}): ReturnType<typeof spawnSync> {
        const [interpreter, flag] = cmd.inputs.interpreter as [string, string];
        const env = { ...(cmd.inputs.environment as Record<string, string>), HOME: home, PATH: `${join(work, "bin")}:/usr/bin:/bin`, ...extraEnv };
        return spawnSync(interpreter, [flag, script], { env, input: String(cmd.inputs.stdin), encoding: "utf8" });
    }
    const args = () => readFileSync(join(work, "args"), "utf8").trim().split("\n");

    it("create writes hosts.toml under ~/.kubeforge/<cluster>, runs kind there on the generated config, and prints only the kubeconfig", () => {
        const r = sh(String(cmd.inputs.create));
        expect(r.status).toBe(0);
        expect(r.stdout).toBe(`${KUBECONFIG}\n`);
        expect(readFileSync(join(state(), "certs.d", "localhost:5001", "hosts.toml"), "utf8")).toBe('[host."http://kubeforge-dev-registry:5000"]\n');
        expect(readFileSync(join(work, "config.yaml"), "utf8")).toBe(String(cmd.inputs.stdin));
        // The config's relative hostPath (certs.d) resolves to the dir hosts.toml was written to.
        expect(readFileSync(join(work, "cwd"), "utf8").trim()).toBe(state());
        expect(args()).toEqual(["get clusters", "create cluster --name kubeforge-dev --config - --wait 120s", "get kubeconfig --name kubeforge-dev"]);
    });

    it("never runs kind create cluster on a cluster that exists: a changed script on a live stack only re-reads the kubeconfig", () => {
        // kind refuses a second create: "node(s) already exist for a cluster with the name"
        // (kind v0.32.0 pkg/cluster/internal/create/create.go); pulumi-command runs `update` on any
        // input change (v1.2.1 commandController.go), and `update` is this same script.
        writeFileSync(join(work, "clusters"), "other\nkubeforge-dev\n");
        for (const script of [cmd.inputs.create, cmd.inputs.update]) {
            rmSync(join(work, "args"), { force: true });
            const r = sh(String(script));
            expect(r.status).toBe(0);
            expect(r.stdout).toBe(`${KUBECONFIG}\n`);
            expect(r.stderr).toContain("kind cluster kubeforge-dev exists; using it");
            expect(args()).toEqual(["get clusters", "get kubeconfig --name kubeforge-dev"]);
        }
        // A cluster whose name merely starts the same is another cluster.
        writeFileSync(join(work, "clusters"), "kubeforge-dev-2\n");
        rmSync(join(work, "args"), { force: true });
        expect(sh(String(cmd.inputs.update)).status).toBe(0);
        expect(args()).toContain("create cluster --name kubeforge-dev --config - --wait 120s");
    });

    it("fails, printing no kubeconfig, when kind fails or cannot list clusters", () => {
        const r = sh(String(cmd.inputs.create), { FAIL: "1" });
        expect(r.status).not.toBe(0);
        expect(r.stdout).toBe("");
        expect(args()).not.toContain("get kubeconfig --name kubeforge-dev");

        rmSync(join(work, "args"), { force: true });
        const down = sh(String(cmd.inputs.update), { DOWN: "1" });
        expect(down.status).not.toBe(0);
        expect(down.stdout).toBe("");
        expect(args()).toEqual(["get clusters"]);
    });

    it("delete deletes the cluster and its state dir, and ~/.kubeforge once it is empty", () => {
        expect(sh(String(cmd.inputs.create)).status).toBe(0);
        mkdirSync(join(home, ".kubeforge", "kubeforge-other"));
        rmSync(join(work, "args"), { force: true });
        const r = sh(String(cmd.inputs.delete));
        expect(r.status).toBe(0);
        expect(args()).toEqual(["delete cluster --name kubeforge-dev"]);
        expect(existsSync(state())).toBe(false);
        // Another stack's cluster dir stays, and so does ~/.kubeforge.
        expect(existsSync(join(home, ".kubeforge", "kubeforge-other"))).toBe(true);

        rmSync(join(home, ".kubeforge", "kubeforge-other"), { recursive: true });
        expect(sh(String(cmd.inputs.create)).status).toBe(0);
        expect(sh(String(cmd.inputs.delete)).status).toBe(0);
        expect(existsSync(join(home, ".kubeforge"))).toBe(false);
    });

    it("delete keeps the state dir when kind cannot delete the cluster (so a retried destroy finds it)", () => {
        expect(sh(String(cmd.inputs.create)).status).toBe(0);
        const r = sh(String(cmd.inputs.delete), { DOWN: "1" });
        expect(r.status).not.toBe(0);
        expect(existsSync(state())).toBe(true);
    });
});

describe("cluster.kind config: one line naming the key, the value and what is allowed", () => {
    const problems = (kind: Record<string, unknown>): string[] => {
        try {
            parseSettings({ cluster: { kind } } as RawConfig, "kubeforge", "dev");
            return [];
        } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            return (err as ConfigError).message.split("\n");
        }
    };
    const cases: [string, Record<string, unknown>, string][] = [
        ["no workers", { workers: 0 }, "kubeforge:cluster.kind.workers: 0 must be at least 1 (load balancers only send traffic to worker nodes)"],
        ["too many workers", { workers: 11 }, "kubeforge:cluster.kind.workers: 11 must be at most 10 (every node is a container on this machine)"],
        ["fractional workers", { workers: 1.5 }, "kubeforge:cluster.kind.workers: 1.5 is not a whole number"],
        ["privileged port", { registryPort: 80 }, "kubeforge:cluster.kind.registryPort: 80 must be at least 1024 (an unprivileged host port)"],
        ["port out of range", { registryPort: 70000 }, "kubeforge:cluster.kind.registryPort: 70000 must be at most 65535"],
        ["port as text", { registryPort: "5001" }, 'kubeforge:cluster.kind.registryPort: "5001" is not a number'],
        ["node image by tag only", { nodeImage: "kindest/node:v1.37.0" },
            `kubeforge:cluster.kind.nodeImage: "kindest/node:v1.37.0" is not pinned by tag and digest (expected kindest/node:<version>@sha256:<64 hex>, as kind's release notes list them, e.g. ${KIND_NODE_IMAGE})`],
        ["node image by digest only", { nodeImage: `kindest/node@sha256:${"a".repeat(64)}` },
            `kubeforge:cluster.kind.nodeImage: "kindest/node@sha256:${"a".repeat(64)}" is not pinned by tag and digest (expected kindest/node:<version>@sha256:<64 hex>, as kind's release notes list them, e.g. ${KIND_NODE_IMAGE})`],
        ["privileged load-balancer port", { lbPortBase: 80 }, "kubeforge:cluster.kind.lbPortBase: 80 must be at least 1024 (an unprivileged host port)"],
        ["load-balancer ports over the registry's", { lbPortBase: 5000 },
            "kubeforge:cluster.kind.lbPortBase: 5000 gives messages host port 5001, which is registryPort; choose lbPortBase or registryPort so the load balancers' ports (5000–5002) miss the registry's"],
        ["load-balancer ports past 65535", { lbPortBase: 65534 }, "kubeforge:cluster.kind.lbPortBase: 65534 gives reports host port 65536, above 65535; choose at most 65533"],
        ["unknown key", { worker: 3 }, "kubeforge:cluster.kind.worker: is not a known key (allowed: workers, nodeImage, registryPort, lbPortMapping, lbPortBase)"],
    ];
    it.each(cases)("%s", (_label, kind, message) => {
        expect(problems(kind)).toEqual([message]);
    });

    it("defaults: kind flavour, two workers, the pinned node image, registry port 5001, load balancers from 8081", () => {
        expect(parseSettings({}, "kubeforge", "dev").cluster).toMatchObject({
            flavour: "kind",
            kind: { workers: 2, nodeImage: KIND_NODE_IMAGE, registryPort: 5001, lbPortBase: 8081 },
        });
    });
});

/** A Linux daemon with cgroup v2, as `docker info` describes it; `kernelVersion` tells WSL2 apart. */
/** A Linux laptop; Docker Engine's daemon there reports its kernel and host name. */
const LINUX_HOST: HostMachine = { platform: "linux", release: "6.8.0-45-generic", hostname: "laptop" };
const daemon = (kernelVersion: string, name = "laptop"): DockerDaemon => ({ ...MOCK_DOCKER_DAEMON, kernelVersion, name });
const onPlatform = (platform: NodeJS.Platform): HostMachine => ({ ...LINUX_HOST, platform });

/** Construct one KindCluster (named `solo`) under mocks on a checked daemon; returns what it registered. */
async function kindAlone(opts: { host?: HostMachine; daemon?: DockerDaemon; raw?: RawConfig } = {}): Promise<{ resources: RecordedResource[]; cluster: KindCluster }> {
    const settings = parseSettings(opts.raw ?? {}, "kubeforge", "dev");
    let cluster: KindCluster | undefined;
    const run = await runUnderMocks("dev", {}, async () => {
        const docker = new DockerHost("docker", { settings, preflight: () => ({ problems: [], daemon: opts.daemon ?? MOCK_DOCKER_DAEMON }) });
        cluster = new KindCluster("solo", { settings, docker: { provider: docker.provider!, daemon: docker.daemon }, ...(opts.host ? { host: opts.host } : {}) });
        return {};
    });
    return { resources: run.resources, cluster: cluster! };
}

describe("load-balancer port mapping default", () => {
    const command = (resources: RecordedResource[]) =>
        resources.find((r) => r.type === CONTAINER && String(r.inputs.name).endsWith("-cloud-provider-kind"))?.inputs.command;

    it("is on where the kind network is not routable from the host (macOS, Windows)", async () => {
        expect(command((await kindAlone({ host: onPlatform("darwin"), daemon: daemon("6.10.14-linuxkit", "docker-desktop") })).resources)).toEqual(["--enable-lb-port-mapping"]);
        expect(command((await kindAlone({ host: onPlatform("win32"), daemon: daemon("6.10.14-linuxkit", "docker-desktop") })).resources)).toEqual(["--enable-lb-port-mapping"]);
    });

    it("is off for Docker Engine on this Linux machine, where load-balancer IPs are reachable directly", async () => {
        const { resources, cluster } = await kindAlone({ host: LINUX_HOST, daemon: daemon("6.8.0-45-generic") });
        expect(command(resources)).toBeUndefined();
        expect(cluster.loadBalancer("public", "/readyz", "backend").urlHost).toBeUndefined();
    });

    it("is on for a Linux machine whose daemon runs in a VM (Docker Desktop, Colima, Rancher Desktop): the kind network lives there", async () => {
        for (const vm of [daemon("6.10.14-linuxkit", "docker-desktop"), daemon("6.8.0-45-generic", "colima"), daemon("6.6.63-0-virt", "lima-rancher-desktop")]) {
            const { resources, cluster } = await kindAlone({ host: LINUX_HOST, daemon: vm });
            expect(command(resources)).toEqual(["--enable-lb-port-mapping"]);
            expect(cluster.loadBalancer("public", "/readyz", "backend").urlHost).toBe("localhost");
        }
    });

    it("is on in WSL2 (process.platform linux), where cloud-provider-kind would pick tunnel mode itself", async () => {
        // cloud-provider-kind v0.11.1 cmd/app.go: GOOS darwin/windows or isWSL2() -> Tunnel, which
        // publishes the same ports (pkg/loadbalancer/server.go) and then sets up tunnels it cannot
        // in a container; the flag overrides that with Portmap. Docker Engine installed in the WSL2
        // distribution itself runs there, and gets it too.
        const wsl: HostMachine = { platform: "linux", release: "5.15.153.1-microsoft-standard-WSL2", hostname: "laptop" };
        for (const d of [daemon("5.15.153.1-microsoft-standard-WSL2", "docker-desktop"), daemon("5.15.153.1-microsoft-standard-WSL2")]) {
            const { resources, cluster } = await kindAlone({ host: wsl, daemon: d });
            expect(command(resources)).toEqual(["--enable-lb-port-mapping"]);
            expect(cluster.loadBalancer("public", "/readyz", "backend").urlHost).toBe("localhost");
        }
    });

    it("follows an explicit setting, and still reaches a WSL2 load balancer through localhost when off", async () => {
        const off = await kindAlone({ host: onPlatform("darwin"), raw: { cluster: { kind: { lbPortMapping: false } } } });
        expect(command(off.resources)).toBeUndefined();
        expect(off.cluster.loadBalancer("public", "/readyz", "backend").urlHost).toBeUndefined();
        // Tunnel mode publishes the ports anyway.
        const wsl = await kindAlone({ host: LINUX_HOST, daemon: daemon("5.15.153.1-microsoft-standard-WSL2"), raw: { cluster: { kind: { lbPortMapping: false } } } });
        expect(command(wsl.resources)).toBeUndefined();
        expect(wsl.cluster.loadBalancer("public", "/readyz", "backend").urlHost).toBe("localhost");
    });
});

describe("images on kind", () => {
    it("builds the images for the daemon's architecture, the nodes', not for the one Node.js runs on", async () => {
        // An x64 Node.js under Rosetta on Apple silicon, with Docker Desktop's arm64 VM.
        const arm = await kindAlone({ host: onPlatform("darwin"), daemon: { ...daemon("6.10.14-linuxkit", "docker-desktop"), architecture: "aarch64" } });
        expect(arm.cluster.registry.platform).toBe("linux/arm64");
        const intel = await kindAlone({ host: onPlatform("darwin"), daemon: { ...daemon("6.8.0-45-generic", "colima"), architecture: "x86_64" } });
        expect(intel.cluster.registry.platform).toBe("linux/amd64");
    });
});

describe("the Docker daemon under mocks", () => {
    it("is the stand-in, never a real probe: the machine checks run only outside mocks", async () => {
        expect(outsideMocks).toBe(false);
        let host: DockerHost | undefined;
        await runUnderMocks("dev", {}, async () => {
            host = new DockerHost("docker", { settings: parseSettings({}, "kubeforge", "dev") });
            return {};
        });
        expect(host!.daemon).toBe(MOCK_DOCKER_DAEMON);
    });

    it("fails the program with a RunError (no stack trace) carrying the preflight's lines", async () => {
        const problems = ["kind: not found on PATH; install kind 0.33.0 or later: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"];
        let error: unknown;
        await runUnderMocks("dev", {}, async () => {
            try {
                new DockerHost("docker", { settings: parseSettings({}, "kubeforge", "dev"), preflight: () => ({ problems }) });
            } catch (err) {
                error = err;
            }
            return {};
        });
        expect((error as Error).message).toBe(problems[0]);
        expect(pulumi.RunError.isInstance(error)).toBe(true);
    });
});

describe("the kind network's subnet", () => {
    it("is the IPv4 one of its IPAM configs (kind adds an IPv6 ULA subnet)", () => {
        expect(ipv4Subnet([{ subnet: "fc00:f853:ccd:e793::/64" }, { subnet: "172.18.0.0/16", gateway: "172.18.0.1" } as { subnet: string }])).toBe("172.18.0.0/16");
    });

    it("is one clear line when the network has none", () => {
        expect(() => ipv4Subnet([{ subnet: "fc00::/64" }])).toThrow(/^kind: the Docker network "kind" has no IPv4 subnet \(\[\{"subnet":"fc00::\/64"\}\]\); delete it/);
    });
});

// cloud-provider-kind v0.11.1 pkg/loadbalancer/server.go, transcribed: in port-mapping (and
// tunnel) mode createLoadBalancer publishes each TCP/UDP Service port P of a single-stack Service as
// `--publish=<listen address>:P:P/<protocol>` (lines 238-244), i.e. on host port P, and only
// without a listen address (dual-stack, or no ipFamilies) as `--publish=P/<protocol>`, an
// ephemeral host port; listenAddressForService (lines 295-312) picks the address.
function listenAddressForService(ipFamilies: readonly string[] = []): string {
    const v4 = ipFamilies.includes("IPv4");
    const v6 = ipFamilies.includes("IPv6");
    return v4 && !v6 ? "0.0.0.0" : v6 && !v4 ? "::" : "";
}
function publishArgs(spec: { ports: { port: number; protocol?: string }[]; ipFamilies?: string[] }): string[] {
    const listen = listenAddressForService(spec.ipFamilies);
    return spec.ports.filter((p) => ["TCP", "UDP"].includes(p.protocol ?? "TCP")).map((p) => {
        const protocol = p.protocol ?? "TCP";
        return listen === "" ? `--publish=${p.port}/${protocol}` : `--publish=${listen.includes(":") ? `[${listen}]` : listen}:${p.port}:${p.port}/${protocol}`;
    });
}
/** The host port a `--publish` argument binds, or undefined when Docker picks one. */
const hostPort = (arg: string): number | undefined => {
    const m = /:(\d+):\d+\/\w+$/.exec(arg);
    return m ? Number(m[1]) : undefined;
};

describe("load balancers on kind: a host port each (cloud-provider-kind v0.11.1 publishes Service port P on host port P)", () => {
    let p: Program;
    beforeAll(async () => {
        p = await runStack("dev");
    });
    const lbServices = () => p.k8s("Service").filter((s) => at(s, "spec.type") === "LoadBalancer");

    it("models listenAddressForService as upstream's own test does (server_test.go TestListenAddressForService)", () => {
        expect(listenAddressForService()).toBe("");
        expect(listenAddressForService(["IPv4"])).toBe("0.0.0.0");
        expect(listenAddressForService(["IPv6"])).toBe("::");
        expect(listenAddressForService(["IPv4", "IPv6"])).toBe("");
        // Three Services on port 80, as before this fix: one host port asked for three times.
        const old = [80, 80, 80].map((port) => hostPort(publishArgs({ ports: [{ port }], ipFamilies: ["IPv4"] })[0]!));
        expect(new Set(old).size).toBe(1);
    });

    // pulumi-kubernetes v4.32.0 provider/pkg/await/service.go: a LoadBalancer Service is ready once
    // status.loadBalancer.ingress is non-empty, and `pulumi up` waits 10 minutes for that by default;
    // cloud-provider-kind sets it when the envoy container runs (server.go GetLoadBalancer), which a
    // second container asking for a taken host port never does.
    it("gives every public load balancer on kind its own host port, none of them the registry's", () => {
        for (const s of lbServices()) expect(s.metadata?.annotations ?? {}, s.metadata?.name).not.toHaveProperty(["pulumi.com/skipAwait"]);
        // A single-stack kind cluster's API server sets ipFamilies [IPv4] on every Service.
        const ports = lbServices().map((s) => hostPort(publishArgs({ ...(s.spec as { ports: { port: number; protocol: string }[] }), ipFamilies: ["IPv4"] })[0]!));
        expect(ports).toEqual([8081, 8082, 8083]);
        expect(new Set(ports).size).toBe(ports.length);
        expect(ports).not.toContain(5001);
        // Each Service's port is the host port, and the pods' port stays the container's.
        for (const s of lbServices()) expect(at(s, "spec.ports")).toEqual([{ name: "http", port: ports[lbServices().indexOf(s)], targetPort: "http", protocol: "TCP" }]);
    });

    it("recreates a load-balancer Service whose port changes: cloud-provider-kind publishes ports only when it creates the envoy container", () => {
        // server.go EnsureLoadBalancer: `if !container.Exist(name) { createLoadBalancer(...) }`, then only updates envoy's config.
        for (const r of p.ofType("kubernetes:core/v1:Service").filter((x) => x.name.endsWith("-lb"))) {
            expect(r.options.replaceOnChanges, r.name).toEqual(["spec.ports"]);
            expect(r.options.deleteBeforeReplace, r.name).toBe(true);
        }
    });

    it("leaves other flavours' load balancers to update in place (an NLB keeps its name across a port change)", async () => {
        const staging = await runStack("staging");
        const lbs = staging.ofType("kubernetes:core/v1:Service").filter((x) => x.name.endsWith("-lb"));
        expect(lbs.length).toBeGreaterThan(0);
        for (const r of lbs) expect(r.options.replaceOnChanges, r.name).toEqual([]);
    });

    it("keeps the built-ins' ports when one is disabled, and gives an added service the next one", async () => {
        const q = await runStack("dev", { "kubeforge:services": { messages: { enabled: false }, search: { image: "ghcr.io/acme/search:1.4.2" } }, "kubeforge:cluster": { kind: { lbPortBase: 9000 } } });
        const ports = Object.fromEntries(q.k8s("Service").filter((s) => at(s, "spec.type") === "LoadBalancer").map((s) => [s.metadata?.name, at<{ port: number }[]>(s, "spec.ports")[0]!.port]));
        expect(ports).toEqual({ "backend-public": 9000, "reports-public": 9002, "search-public": 9003 });
    });

    it("exports a URL with the port: the load balancer's address where the host routes to the kind network (Linux)", async () => {
        const q = await runStack("dev", { "kubeforge:cluster": { kind: { lbPortMapping: false } } });
        const endpoints = q.run.outputs.endpoints as Record<string, { address: string; url: string }>;
        for (const [svc, port] of [["backend", 8081], ["messages", 8082], ["reports", 8083]] as const) {
            expect(endpoints[svc]!.url).toBe(`http://${endpoints[svc]!.address}:${port}`);
        }
    });

    it("exports http://localhost:<port> where the ports are published on the host (macOS, Windows, WSL2)", async () => {
        const q = await runStack("dev", { "kubeforge:cluster": { kind: { lbPortMapping: true } } });
        const endpoints = q.run.outputs.endpoints as Record<string, { address: string; url: string }>;
        expect(Object.values(endpoints).map((e) => e.url)).toEqual(["http://localhost:8081", "http://localhost:8082", "http://localhost:8083"]);
        // The address stays the load balancer's own (on the kind network).
        for (const e of Object.values(endpoints)) expect(e.address).toMatch(/^198\.51\.100\.\d+$/);
    });
});

describe("kindClusterName", () => {
    it("derives a valid kind name from project and stack", () => {
        expect(kindClusterName("kubeforge", "dev")).toBe("kubeforge-dev");
        expect(kindClusterName("Kube_Forge", "alice.Dev")).toBe("kube-forge-alice-dev");
    });
});
