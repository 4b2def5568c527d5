// `npm run plan` end to end (scripts/plan.ts): the real program under mocks, the committed example
// load file and calibration; one clear line and exit 2 for bad input, never a stack trace.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { XMLValidator } from "fast-xml-parser";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Runner } from "../components/runner";
import { dockerHost, plan } from "../scripts/plan";
import { PROJECT_ROOT } from "../scripts/stack-files";

const EXAMPLE = join(PROJECT_ROOT, "examples", "load-backend-spike.yaml");

async function run(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    vi.resetModules();
    const code = await plan(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join("\n"), err: err.join("\n") };
}

const tmp = () => mkdtempSync(join(tmpdir(), "kubeforge-plan-"));

describe("npm run plan", () => {
    beforeEach(() => vi.restoreAllMocks());

    it("prod: the capacity verdicts, exit 0 (it fits at min and at max)", async () => {
        const dir = tmp();
        const r = await run(["prod", "--out", dir]);
        expect(r.code).toBe(0);
        expect(r.out).toContain("at max, every service fits: 10 backend, 10 messages, 10 reports on 3 nodes");
        expect(r.out).toContain("no --load FILE: capacity only");
        expect(JSON.parse(readFileSync(join(dir, "plan.json"), "utf8"))).toMatchObject({ stack: "prod", flavour: "eks", capacity: { fits: true } });
    });

    it("dev --load the example: a series per service, the SVG, and the table; exit 0 on an 8-CPU host", async () => {
        const dir = tmp();
        const r = await run(["dev", "--load", EXAMPLE, "--host-cpus", "8", "--host-memory", "16Gi", "--out", dir]);
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        expect(r.out).toMatch(/Docker host 8 CPUs, 16\.0Gi from --host-cpus, --host-memory/);
        expect(r.out).toMatch(/^ {2}backend +\d+ +/m);
        const doc = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")) as { services: Record<string, { series: Record<string, unknown>[] }>; calibration: { file: string } };
        expect(Object.keys(doc.services)).toEqual(["backend", "messages", "reports"]);
        expect(doc.calibration.file).toBe("services/calibration.json");
        for (const s of Object.values(doc.services)) {
            expect(s.series).toHaveLength(900);
            expect(Object.keys(s.series[0] ?? {})).toEqual(expect.arrayContaining(["t", "rps", "desiredReplicas", "readyReplicas", "pendingPods", "cpuUtilization"]));
        }
        expect(XMLValidator.validate(readFileSync(join(dir, "plan.svg"), "utf8"))).toBe(true);
    });

    it("reads a relative --load from where the user ran npm (INIT_CWD, scripts/user-files.ts)", async () => {
        vi.stubEnv("INIT_CWD", join(PROJECT_ROOT, "examples"));
        try {
            const r = await run(["dev", "--load", "load-backend-spike.yaml", "--host-cpus", "8", "--host-memory", "16Gi", "--out", tmp()]);
            expect([r.code, r.err]).toEqual([0, ""]);
        } finally {
            vi.unstubAllEnvs();
        }
    });

    it("--json prints plan.json to stdout and the rest to stderr", async () => {
        const r = await run(["dev", "--load", EXAMPLE, "--host-cpus", "8", "--host-memory", "16Gi", "--out", tmp(), "--json"]);
        expect(r.code).toBe(0);
        expect(JSON.parse(r.out)).toMatchObject({ stack: "dev", flavour: "kind" });
        expect(r.err).toContain("autoscaling preview");
    });

    it("dev on a 2-CPU host: exit 1, the services do not fit at max", async () => {
        const r = await run(["dev", "--host-cpus", "2", "--host-memory", "8Gi", "--out", tmp()]);
        expect(r.code).toBe(1);
        expect(r.out).toContain("at max, the pods request 3600m CPU");
    });

    const badCases: [string, string[], RegExp][] = [
        ["a stack that does not exist", ["nope"], /^stack "nope" does not exist: there is no Pulumi\.nope\.yaml \(stacks: dev, prod, staging\); or give --stack-file FILE$/],
        ["an unknown flag", ["dev", "--frobnicate"], /^Unknown option '--frobnicate'/],
        ["half of the host flags", ["dev", "--host-cpus", "4"], /^--host-cpus and --host-memory: give both or neither \(got only --host-cpus\)$/],
        ["a bad host size", ["dev", "--host-cpus", "four", "--host-memory", "8Gi"], /^--host-cpus: "four" is not a number of CPUs above 0$/],
        ["a negative pod start", ["dev", "--pod-start=-1"], /^--pod-start: "-1" is not a number of seconds \(at least 0\)$/],
        ["a missing load file", ["prod", "--load", "/nonexistent/load.yaml"], /^--load \/nonexistent\/load\.yaml: cannot be read \(\/nonexistent\/load\.yaml: no such file\); give a path relative to the directory you ran the command in, or an absolute one$/],
    ];
    for (const [name, args, line] of badCases) {
        it(`${name}: one line, exit 2`, async () => {
            const r = await run(args);
            expect(r.code).toBe(2);
            expect(r.err.split("\n")[0]).toMatch(line);
            expect(r.err).not.toMatch(/\n\s+at /);
        });
    }

    it("a load file with an unknown service, a negative rate and times out of order: one line each, exit 2", async () => {
        const file = join(tmp(), "load.yaml");
        writeFileSync(file, "duration: 120\nservices:\n  frontend: [{ at: 0, rps: 5 }]\n  backend: [{ at: 0, rps: 5 }, { at: 60, rps: 10 }, { at: 30, rps: 1 }]\n");
        const r = await run(["prod", "--load", file, "--out", tmp()]);
        expect(r.code).toBe(2);
        expect(r.err.split("\n")).toEqual([
            `${file}: services.frontend: "frontend" is not a service of this stack (allowed: backend, messages, reports)`,
            `${file}: services.backend[2].at: 30 is not after the point before it (at 60); points must be in increasing time order`,
        ]);
        writeFileSync(file, "duration: 120\nservices:\n  backend: [{ at: 0, rps: -1 }]\n");
        const neg = await run(["prod", "--load", file, "--out", tmp()]);
        expect([neg.code, neg.err]).toEqual([2, `${file}: services.backend[0].rps: -1 must be at least 0 (requests per second)`]);
    });

    it("a service the calibration does not list needs every cost key in the load file", async () => {
        const dir = tmp();
        const calibration = JSON.parse(readFileSync(join(PROJECT_ROOT, "services", "calibration.json"), "utf8")) as { services: Record<string, unknown> };
        delete calibration.services.backend;
        writeFileSync(join(dir, "calibration.json"), JSON.stringify(calibration));
        const load = join(dir, "load.yaml");
        writeFileSync(load, "duration: 60\nservices:\n  backend: [{ at: 0, rps: 5 }]\ncalibration:\n  backend: { cpuPerRequest: 1, idleCpu: 1, memory: 90Mi, maxCpu: 1000 }\n");
        const args = ["dev", "--load", load, "--calibration", join(dir, "calibration.json"), "--host-cpus", "8", "--host-memory", "16Gi", "--out", dir];
        const partial = await run(args);
        expect([partial.code, partial.err]).toEqual([2, `${load}: calibration.backend: (missing) ${relative(PROJECT_ROOT, join(dir, "calibration.json"))} has no entry for backend; give calibration.backend { cpuPerRequest, idleCpu, memory, maxCpu, startSeconds } in the load file`]);
        writeFileSync(load, "duration: 60\nservices:\n  backend: [{ at: 0, rps: 5 }]\ncalibration:\n  backend: { cpuPerRequest: 1, idleCpu: 1, memory: 90Mi, maxCpu: 1000, startSeconds: 1 }\n");
        expect((await run(args)).code).toBe(0);
    });

    it("an invalid stack config: the config's own lines, exit 2", async () => {
        const file = join(tmp(), "Pulumi.bad.yaml");
        writeFileSync(file, "config:\n  kubeforge:services:\n    backend:\n      replicas: { min: 4, max: 2 }\n");
        const r = await run(["bad", "--stack-file", file]);
        expect([r.code, r.err]).toEqual([2, "kubeforge:services.backend.replicas.max: 2 is below min 4"]);
    });

    it("an instance type the plan does not know: one line naming the key, exit 2", async () => {
        const file = join(tmp(), "Pulumi.odd.yaml");
        const prod = readFileSync(join(PROJECT_ROOT, "Pulumi.prod.yaml"), "utf8").replace("instanceTypes: [m6i.large, m7i.large]", "instanceTypes: [m6id.large]");
        writeFileSync(file, prod);
        const r = await run(["odd", "--stack-file", file, "--out", tmp()]);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(/^kubeforge:cluster\.eks\.nodes\.instanceTypes: "m6id\.large" is not an instance type the plan knows \(supported: /);
    });

    it("an existing cluster: no capacity verdict, a preview in which no pod waits for a node", async () => {
        const file = join(tmp(), "Pulumi.ext.yaml");
        writeFileSync(file, "config:\n  kubeforge:cluster:\n    flavour: existing\n    context: my-cluster\n    registry: registry.example.com/team\n");
        const r = await run(["ext", "--stack-file", file, "--load", EXAMPLE, "--out", tmp()]);
        expect(r.code).toBe(0);
        expect(r.out).toContain("capacity: the existing cluster's nodes are not known to the program");
        expect(r.out).toMatch(/^ {2}backend .* 5 \/ 5 .* 0$/m);
    });

    it("as a command: an error the program raises under mocks is one line, as synth prints it, and exit 1", () => {
        const file = join(tmp(), "Pulumi.raising.yaml");
        writeFileSync(file, "config: {}\n");
        const tsx = join(PROJECT_ROOT, "node_modules", ".bin", "tsx");
        const entry = `require("./scripts/plan").cli(["raising", "--stack-file", ${JSON.stringify(file)}, "--out", ${JSON.stringify(tmp())}], () => import("./test/programs/raises-in-apply"))`;
        const r = spawnSync(tsx, ["-e", entry], { encoding: "utf8", cwd: PROJECT_ROOT });
        expect(r.stderr.trim().split("\n")).toEqual([
            "the program failed under Pulumi mocks (a real preview fails too; what the failing value fed was never declared): " +
            `error serializing property "spec": the network has no IPv4 subnet (fc00:f853:ccd:e793::/64) (test/programs/raises-in-apply.ts:13)`,
        ]);
        expect(r.status).toBe(1);
    });

    it("as a command: a stack that does not exist is one line on stderr and exit 2", () => {
        const tsx = join(PROJECT_ROOT, "node_modules", ".bin", "tsx");
        const r = spawnSync(tsx, [join(PROJECT_ROOT, "scripts", "plan.ts"), "nope"], { encoding: "utf8", cwd: PROJECT_ROOT });
        expect(r.status).toBe(2);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stdout).toBe("");
    });
});

/**
 * A docker CLI whose current context is the default socket, with daemons by endpoint answering
 * `docker --host H info --format '{{json .}}'` (docker/cli v29.7.2); every command line recorded.
 */
function dockerCli(daemons: Record<string, Record<string, unknown>>): { run: Runner; calls: string[][] } {
    const calls: string[][] = [];
    const run: Runner = (command, args) => {
        calls.push([command, ...args]);
        if (args[0] === "context") return { status: 0, stdout: `${JSON.stringify({ Name: "default", Endpoints: { docker: { Host: "unix:///var/run/docker.sock" } }, TLSMaterial: {} })}\n`, stderr: "" };
        const info = args[0] === "--host" && args[2] === "info" ? daemons[args[1] ?? ""] : undefined;
        if (info === undefined) return { status: 1, stdout: "", stderr: `Cannot connect to the Docker daemon at ${args[1]}. Is the docker daemon running?\n` };
        return { status: 0, stdout: `${JSON.stringify(info)}\n`, stderr: "" };
    };
    return { run, calls };
}

describe("kind's Docker host", () => {
    const daemon = { ID: "3f2a9c1e", ServerVersion: "29.7.2", NCPU: 12, MemTotal: 16_000_000_000 };

    it("comes from the flags, else the daemon the doctor asks (NCPU, MemTotal), else this machine, saying so", () => {
        expect(dockerHost("4", "8Gi", dockerCli({}).run, {})).toEqual({ cpus: 4, memoryBytes: 8 * 2 ** 30, source: "--host-cpus, --host-memory" });
        const docker = dockerCli({ "unix:///var/run/docker.sock": daemon });
        expect(dockerHost(undefined, undefined, docker.run, {})).toEqual({ cpus: 12, memoryBytes: 16_000_000_000, source: "docker info" });
        // The endpoint is resolved as components/docker-endpoint.ts does for the doctor and the program.
        expect(docker.calls).toContainEqual(["docker", "--host", "unix:///var/run/docker.sock", "info", "--format", "{{json .}}"]);
        expect(dockerHost(undefined, undefined, dockerCli({}).run, {}).source).toMatch(/^this machine \(Docker is not reachable/);
    });

    it("asks the daemon at DOCKER_HOST; with DOCKER_CONTEXT set (refused by the doctor) it uses this machine", () => {
        const docker = dockerCli({ "tcp://127.0.0.1:2375": { ...daemon, NCPU: 4 } });
        expect(dockerHost(undefined, undefined, docker.run, { DOCKER_HOST: "tcp://127.0.0.1:2375" })).toMatchObject({ cpus: 4, source: "docker info" });
        const refused = dockerCli({ "unix:///var/run/docker.sock": daemon });
        expect(dockerHost(undefined, undefined, refused.run, { DOCKER_CONTEXT: "colima" }).source).toMatch(/^this machine \(Docker is not reachable/);
        expect(refused.calls).toEqual([]);
    });
});
