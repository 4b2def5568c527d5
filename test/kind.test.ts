/**
 * The kind flavour under Pulumi mocks: what `pulumi up -s dev` would declare (the kind cluster
 * command and its generated config, the local registry, cloud-provider-kind, metrics-server with
 * kind's flag, image builds and the digests Deployments run), the cluster command's shell script
 * run against a fake `kind`, config validation of `cluster.kind`, and the preflight.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CLOUD_PROVIDER_KIND_IMAGE, KindCluster, kindClusterName, REGISTRY_IMAGE } from "../components/cluster/kind/kind";
import { runningUnderMocks } from "../components/runtime";
import { KIND_NODE_IMAGE } from "../components/cluster/kind/config";
import { defaultPlatform } from "../components/image";
import { ConfigError, parseSettings, type RawConfig } from "../components/config";
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

    it("points containerd at certs.d and mounts the generated hosts dir into every node", () => {
        const { config, env } = clusterCommand(p);
        expect(config.containerdConfigPatches).toHaveLength(1);
        const patch = config.containerdConfigPatches[0]!;
        expect(patch).toMatch(/^\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\]\s*\n\s*config_path = "\/etc\/containerd\/certs\.d"$/);
        for (const n of config.nodes) {
            // The mount source is exactly where the create script writes hosts.toml.
            expect(n.extraMounts).toEqual([{ hostPath: env.CERTS_DIR, containerPath: "/etc/containerd/certs.d", readOnly: true }]);
        }
        expect(env.CERTS_DIR).toBe(join(process.cwd(), ".kubeforge", "dev", "certs.d"));
        expect(env.REGISTRY_HOST).toBe("localhost:5001");
        expect(env.HOSTS_TOML).toBe('[host."http://kubeforge-dev-registry:5000"]\n');
        expect(env.CLUSTER).toBe("kubeforge-dev");
    });

    it("replaces the cluster (old one first) when nodes, image or registry change, and keeps the kubeconfig secret", () => {
        const { cmd } = clusterCommand(p);
        expect(cmd.inputs.triggers).toEqual([2, KIND_NODE_IMAGE, 5001]);
        expect(cmd.options.replaceOnChanges).toEqual(expect.arrayContaining(["triggers", "stdin", "environment"]));
        expect(cmd.options.deleteBeforeReplace).toBe(true);
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

    it("runs cloud-provider-kind from its pinned official image with the Docker socket, on the kind network", () => {
        const cpk = container(p, "-cloud-provider-kind");
        expect(CLOUD_PROVIDER_KIND_IMAGE).toMatch(/^registry\.k8s\.io\/cloud-provider-kind\/cloud-controller-manager:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
        expect(cpk.imageName).toBe(CLOUD_PROVIDER_KIND_IMAGE);
        expect(cpk.inputs.volumes).toEqual([{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }]);
        expect(cpk.inputs.networksAdvanced).toEqual([{ name: "kind" }]);
        expect(cpk.inputs.restart).toBe("unless-stopped");
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
            // Explicit, so that it is part of the tag: the platform the provider would default to.
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
    let cmd: RecordedResource;
    const KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []";

    beforeAll(async () => {
        work = mkdtempSync(join(tmpdir(), "kubeforge-kind-"));
        const bin = join(work, "bin");
        spawnSync("mkdir", ["-p", bin]);
        // Records its arguments and stdin; `create` chatters on stdout, as the real one may.
        writeFileSync(join(bin, "kind"), [
            "#!/bin/sh",
            `echo "$*" >> "${work}/args"`,
            `case "$1" in`,
            `  create) cat > "${work}/config.yaml"; echo "Creating cluster $3 ..."; [ -z "$FAIL" ] || exit 1;;`,
            `  get) cat "${work}/kubeconfig";;`,
            "esac",
        ].join("\n"));
        chmodSync(join(bin, "kind"), 0o755);
        writeFileSync(join(work, "kubeconfig"), `${KUBECONFIG}\n`);
        cmd = clusterCommand(await runStack("dev")).cmd;
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    function sh(script: string, extraEnv: Record<string, string> = {}): ReturnType<typeof spawnSync> {
        const [interpreter, flag] = cmd.inputs.interpreter as [string, string];
        const env = { ...(cmd.inputs.environment as Record<string, string>), CERTS_DIR: join(work, "certs.d"), PATH: `${join(work, "bin")}:/usr/bin:/bin`, ...extraEnv };
        return spawnSync(interpreter, [flag, script], { env, input: String(cmd.inputs.stdin), encoding: "utf8" });
    }

    it("create writes hosts.toml, feeds kind the generated config, and prints only the kubeconfig", () => {
        const r = sh(String(cmd.inputs.create));
        expect(r.status).toBe(0);
        expect(r.stdout).toBe(`${KUBECONFIG}\n`);
        expect(readFileSync(join(work, "certs.d", "localhost:5001", "hosts.toml"), "utf8")).toBe('[host."http://kubeforge-dev-registry:5000"]\n');
        expect(readFileSync(join(work, "config.yaml"), "utf8")).toBe(String(cmd.inputs.stdin));
        expect(readFileSync(join(work, "args"), "utf8").trim().split("\n")).toEqual([
            "create cluster --name kubeforge-dev --config - --wait 120s",
            "get kubeconfig --name kubeforge-dev",
        ]);
    });

    it("create fails, printing no kubeconfig, when kind fails", () => {
        rmSync(join(work, "args"), { force: true });
        const r = sh(String(cmd.inputs.create), { FAIL: "1" });
        expect(r.status).not.toBe(0);
        expect(r.stdout).toBe("");
        expect(readFileSync(join(work, "args"), "utf8").trim().split("\n")).toHaveLength(1);
    });

    it("delete deletes the cluster and its hosts dir", () => {
        rmSync(join(work, "args"), { force: true });
        const r = sh(String(cmd.inputs.delete));
        expect(r.status).toBe(0);
        expect(readFileSync(join(work, "args"), "utf8").trim()).toBe("delete cluster --name kubeforge-dev");
        expect(existsSync(join(work, "certs.d"))).toBe(false);
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
        ["unknown key", { worker: 3 }, "kubeforge:cluster.kind.worker: is not a known key (allowed: workers, nodeImage, registryPort, lbPortMapping)"],
    ];
    it.each(cases)("%s", (_label, kind, message) => {
        expect(problems(kind)).toEqual([message]);
    });

    it("defaults: kind flavour, two workers, the pinned node image, port 5001", () => {
        expect(parseSettings({}, "kubeforge", "dev").cluster).toMatchObject({
            flavour: "kind",
            kind: { workers: 2, nodeImage: KIND_NODE_IMAGE, registryPort: 5001 },
        });
    });
});

/** Construct one KindCluster (named `solo`) under mocks; returns what it registered and any error. */
async function kindAlone(args: Partial<ConstructorParameters<typeof KindCluster>[1]>): Promise<{ resources: RecordedResource[]; error: unknown; underMocks: boolean }> {
    const settings = parseSettings({}, "kubeforge", "dev");
    let error: unknown;
    let underMocks = false;
    const run = await runUnderMocks("dev", {}, async () => {
        underMocks = runningUnderMocks();
        try {
            new KindCluster("solo", { settings, ...args });
        } catch (err) {
            error = err;
        }
        return {};
    });
    return { resources: run.resources, error, underMocks };
}

describe("load-balancer port mapping default", () => {
    const command = (resources: RecordedResource[]) =>
        resources.find((r) => r.type === CONTAINER && String(r.inputs.name).endsWith("-cloud-provider-kind"))?.inputs.command;

    it("is on where the kind network is not routable from the host (macOS, Windows)", async () => {
        expect(command((await kindAlone({ hostPlatform: "darwin" })).resources)).toEqual(["--enable-lb-port-mapping"]);
        expect(command((await kindAlone({ hostPlatform: "win32" })).resources)).toEqual(["--enable-lb-port-mapping"]);
    });

    it("is off on Linux, where load-balancer IPs are reachable directly", async () => {
        expect(command((await kindAlone({ hostPlatform: "linux" })).resources)).toBeUndefined();
    });
});

describe("preflight", () => {
    it("is skipped only under mocks", () => {
        expect(outsideMocks).toBe(false);
    });

    it("fails with the doctor's lines before the kind cluster creates any child", async () => {
        const problems = ["kind: not found on PATH; install kind 0.33.0 or later: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"];
        const { resources, error, underMocks } = await kindAlone({ preflight: () => problems });
        expect(underMocks).toBe(true);
        expect((error as Error).message).toBe(problems[0]);
        // A RunError: Pulumi prints the message without a stack trace.
        expect(pulumi.RunError.isInstance(error)).toBe(true);
        expect(resources.filter((r) => r.parent === "solo")).toEqual([]);
    });

    it("creates the cluster when the preflight finds nothing", async () => {
        const { resources, error } = await kindAlone({ preflight: () => [] });
        expect(error).toBeUndefined();
        expect(resources.filter((r) => r.parent === "solo" && r.type === COMMAND)).toHaveLength(1);
    });
});

describe("kindClusterName", () => {
    it("derives a valid kind name from project and stack", () => {
        expect(kindClusterName("kubeforge", "dev")).toBe("kubeforge-dev");
        expect(kindClusterName("Kube_Forge", "alice.Dev")).toBe("kube-forge-alice-dev");
    });
});
