/**
 * `npm run plan -- <stack> [--stack-file FILE] [--load FILE] [--json]`: will the stack fit, and
 * how will each service scale, before anything is deployed.
 *
 * Runs the real program under Pulumi's mocks (as `npm run synth` does) and reads what it would
 * declare: each service's Deployment and HPA, the other workloads, the Helm releases, the EKS node
 * groups and add-ons. Then:
 * 1. capacity: every service's pods at HPA min and at HPA max, plus the platform's pods, against
 *    the nodes (EKS AL2023 allocatable and max pods per instance type, one node group per zone,
 *    the hard zone spread; kind: the Docker host shared by every node). One verdict line each.
 * 2. with `--load FILE`: a second-by-second preview of the HPAs (the controller's algorithm,
 *    ported), metrics-server, pod start-up, pending pods and the Cluster Autoscaler, written to
 *    plan/<stack>/plan.json and plan/<stack>/plan.svg, with a table per service.
 *
 * Flags: --host-cpus N and --host-memory Q give kind's Docker host (default: `docker info`, or this
 * machine when Docker is not reachable); --pod-start S (image pull and container start, default 5)
 * and --node-delay S (a new node's time to Ready, default 120) override the load file's `cluster`;
 * --calibration FILE (default services/calibration.json); --out DIR (default plan/<stack>).
 *
 * Exit 0 when the services fit at min and at max, 1 when they do not, 2 for bad input (one line
 * per problem, naming the key).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { settingsFromConfig } from "../components/config";
import { inspectDockerDaemon, resolveDockerEndpoint } from "../components/docker-endpoint";
import { MEMORY_QUANTITY, memoryBytes } from "../components/formats";
import { type Runner, systemRunner } from "../components/runner";
import { runCli } from "./cli";
import { runUnderMocks } from "./mocks";
import { capacityVerdict, type DockerHost, PlanInputError } from "./plan/capacity";
import { declaredStack, withHost } from "./plan/declared";
import { applyOverride, COST_KEYS, ratePerSecond, readLoad } from "./plan/load";
import { calibratedCost, readCalibration, summarize, summaryTable } from "./plan/report";
import { DEFAULT_SIM, simulate, type SimService } from "./plan/simulate";
import { planSvg } from "./plan/svg";
import { PROJECT_ROOT, readProjectFile, stackConfig } from "./stack-files";
import type { ProgramLoader } from "./synth";
import { invocationDir, userFile } from "./user-files";

const USAGE = "usage: npm run plan -- <stack> [--stack-file FILE] [--load FILE] [--json] [--host-cpus N --host-memory Q] [--pod-start S] [--node-delay S] [--calibration FILE] [--out DIR]";

/** Where output goes: `--json` keeps stdout for plan.json. */
interface Io {
    out: (line: string) => void;
    err: (line: string) => void;
}

function nonNegative(flag: string, text: string | undefined): number | undefined {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n < 0) throw new PlanInputError(`--${flag}: ${JSON.stringify(text)} is not a number of seconds (at least 0)`);
    return n;
}

/**
 * kind's Docker host: --host-cpus/--host-memory, else what the daemon the doctor and the program use
 * says (components/docker-endpoint.ts: `docker --host <endpoint> info`, NCPU and MemTotal), else
 * this machine (os.cpus, os.totalmem; said so in the output: Docker Desktop's VM may be smaller).
 */
export function dockerHost(cpuFlag: string | undefined, memoryFlag: string | undefined, run: Runner = systemRunner(process.env, 5000), env: NodeJS.ProcessEnv = process.env): DockerHost {
    if ((cpuFlag === undefined) !== (memoryFlag === undefined)) throw new PlanInputError(`--host-cpus and --host-memory: give both or neither (got only --${cpuFlag === undefined ? "host-memory" : "host-cpus"})`);
    if (cpuFlag !== undefined && memoryFlag !== undefined) {
        const n = Number(cpuFlag);
        if (!Number.isFinite(n) || n <= 0) throw new PlanInputError(`--host-cpus: ${JSON.stringify(cpuFlag)} is not a number of CPUs above 0`);
        if (!MEMORY_QUANTITY.test(memoryFlag)) throw new PlanInputError(`--host-memory: ${JSON.stringify(memoryFlag)} is not a memory quantity (e.g. 16Gi)`);
        return { cpus: n, memoryBytes: memoryBytes(memoryFlag), source: "--host-cpus, --host-memory" };
    }
    const endpoint = resolveDockerEndpoint(run, env).value;
    const daemon = endpoint === undefined ? undefined : inspectDockerDaemon(run, endpoint).value;
    if (daemon?.cpus !== undefined && daemon.memoryBytes !== undefined) return { cpus: daemon.cpus, memoryBytes: daemon.memoryBytes, source: "docker info" };
    return { cpus: cpus().length, memoryBytes: totalmem(), source: "this machine (Docker is not reachable; give --host-cpus and --host-memory for another host)" };
}

/** Run the plan of `program` (default index.ts); returns the exit code. */
export async function plan(argv: string[], io: Io = { out: (l) => console.log(l), err: (l) => console.error(l) }, program: ProgramLoader = () => import("../index")): Promise<number> {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            allowPositionals: true,
            options: {
                "stack-file": { type: "string" }, load: { type: "string" }, json: { type: "boolean" }, "host-cpus": { type: "string" }, "host-memory": { type: "string" },
                "pod-start": { type: "string" }, "node-delay": { type: "string" }, calibration: { type: "string" }, out: { type: "string" },
            },
        });
    } catch (e) {
        io.err(`${(e as Error).message.split("\n")[0]}\n${USAGE}`);
        return 2;
    }
    const { values, positionals } = parsed;
    const stack = positionals[0];
    if (!stack || positionals.length > 1) {
        io.err(USAGE);
        return 2;
    }
    const say = values.json ? io.err : io.out;
    try {
        // Paths on the command line are relative to where the user ran npm (scripts/user-files.ts).
        const stackFile = values["stack-file"] === undefined ? undefined : userFile("--stack-file", values["stack-file"]);
        const config = stackConfig(stack, { stackFile, stackFileOption: "--stack-file" });
        const podStart = nonNegative("pod-start", values["pod-start"]);
        const nodeDelay = nonNegative("node-delay", values["node-delay"]);
        const project = readProjectFile().name;
        const settings = settingsFromConfig(config, project, stack);
        const run = await runUnderMocks(stack, config, program, project);
        const declared = declaredStack(run.resources, settings);
        const host = settings.cluster.flavour === "kind" ? dockerHost(values["host-cpus"], values["host-memory"]) : undefined;
        const model = withHost(declared.capacity, host);
        const names = declared.services.map((s) => s.name);
        const loadFile = values.load === undefined ? undefined : userFile("--load", values.load);
        const load = loadFile === undefined ? undefined : readLoad(loadFile, names, values.load);
        const calibrationFile = values.calibration === undefined ? join(PROJECT_ROOT, "services", "calibration.json") : userFile("--calibration", values.calibration);
        const calibration = load ? readCalibration(calibrationFile) : undefined;

        const verdict = capacityVerdict(model);
        say(`plan for stack ${stack} (${settings.cluster.flavour})${host ? `: Docker host ${host.cpus} CPUs, ${(host.memoryBytes / 2 ** 30).toFixed(1)}Gi from ${host.source}` : ""}`);
        for (const line of [...declared.notes, ...verdict.lines]) say(`  ${line}`);

        const outDir = values.out === undefined ? join(PROJECT_ROOT, "plan", stack) : resolve(invocationDir(), values.out);
        const doc: Record<string, unknown> = {
            stack,
            flavour: settings.cluster.flavour,
            host: host ?? null,
            capacity: {
                fits: verdict.fits,
                verdicts: verdict.lines,
                scenarios: verdict.scenarios.map((r) => ({ scenario: r.scenario, nodes: Object.fromEntries(r.counts), wanted: Object.fromEntries(r.wanted), placed: Object.fromEntries(r.placed) })),
            },
            notes: declared.notes,
        };
        if (load && calibration) {
            const problems: string[] = [];
            const simServices: SimService[] = declared.services.map((s) => {
                const points = load.services[s.name];
                const base = calibratedCost(calibration, s.name);
                const override = load.calibration[s.name];
                const complete = COST_KEYS.every((key) => override?.[key] !== undefined);
                if (!base && !complete && points !== undefined) {
                    problems.push(`${values.load}: calibration.${s.name}: (missing) ${relative(PROJECT_ROOT, calibrationFile)} has no entry for ${s.name}; give calibration.${s.name} { ${COST_KEYS.join(", ")} } in the load file`);
                }
                const cost = applyOverride(base ?? { cpuPerRequest: 0, idleCpu: 0, memory: 0, maxCpu: 1000, startSeconds: 0 }, override);
                return { ...s, cost, rps: ratePerSecond(points ?? [], load.duration, load.shape) };
            });
            if (problems.length > 0) throw new PlanInputError(problems.join("\n"));
            const opts = {
                ...DEFAULT_SIM,
                duration: load.duration,
                podStartSeconds: podStart ?? load.cluster.podStartSeconds ?? DEFAULT_SIM.podStartSeconds,
                nodeProvisionSeconds: nodeDelay ?? load.cluster.nodeProvisionSeconds ?? DEFAULT_SIM.nodeProvisionSeconds,
            };
            // An existing cluster's nodes are unknown: its pods never wait for a node in the preview.
            const simModel = model.nodeGroups.length > 0 ? model : { ...model, nodeGroups: [{ name: "existing", zone: "", minSize: 1, maxSize: 1, shape: { allocatable: { cpu: 1e9, memory: 1e18 }, pods: 1e6 }, instanceTypes: [] }] };
            const result = simulate(simModel, simServices, opts);
            const summaries = result.services.map((r, i) => summarize(r, simServices[i] as SimService));
            doc.calibration = { file: relative(PROJECT_ROOT, calibrationFile), measured: calibration.measured, overrides: load.calibration };
            doc.options = { duration: opts.duration, podStartSeconds: opts.podStartSeconds, nodeProvisionSeconds: opts.nodeProvisionSeconds, scanInterval: opts.scanInterval, metricResolution: opts.metricResolution, hpaSyncPeriod: opts.controller.syncPeriod };
            doc.services = Object.fromEntries(result.services.map((r, i) => [r.name, { minReplicas: r.minReplicas, maxReplicas: r.maxReplicas, cpuTarget: r.cpuTarget, summary: summaries[i], series: r.series }]));
            doc.cluster = result.cluster;
            mkdirSync(outDir, { recursive: true });
            writeFileSync(join(outDir, "plan.svg"), planSvg(stack, result));
            say("");
            const nodesNote = { eks: `, node ready ${opts.nodeProvisionSeconds} s after the autoscaler asks`, kind: ", no node autoscaler on kind", existing: ", the existing cluster's nodes not modelled: no pod waits for one" }[settings.cluster.flavour];
            say(`autoscaling preview, ${load.duration} s (pod start ${opts.podStartSeconds} s${nodesNote}):`);
            for (const line of summaryTable(summaries).split("\n")) say(`  ${line}`);
            const peakNodes = Math.max(0, ...result.cluster.map((c) => c.nodes));
            if (settings.cluster.flavour !== "existing") say(`  nodes: ${result.cluster[0]?.nodes ?? 0} at the start, ${peakNodes} at the peak`);
            say(`wrote ${relative(PROJECT_ROOT, join(outDir, "plan.json"))} and ${relative(PROJECT_ROOT, join(outDir, "plan.svg"))}`);
        } else {
            say("no --load FILE: capacity only (e.g. --load examples/load-backend-spike.yaml for the autoscaling preview)");
            mkdirSync(outDir, { recursive: true });
        }
        const json = JSON.stringify(doc, null, 2) + "\n";
        writeFileSync(join(outDir, "plan.json"), json);
        if (values.json) io.out(json.trimEnd());
        return verdict.fits ? 0 : 1;
    } catch (e) {
        const err = e as Error;
        if (err.name === "PlanInputError" || err.name === "ConfigError" || err.name === "UserFileError" || err.name === "StackFileError") {
            io.err(err.message);
            return 2;
        }
        throw err;
    }
}

/** `npm run plan -- <args>`: plan `program` (default index.ts) and exit with the plan's code; an error raised under mocks is one line (./cli.ts). */
export function cli(argv: string[], program?: ProgramLoader): void {
    runCli(() => plan(argv, undefined, program));
}

if (require.main === module) cli(process.argv.slice(2));
