/**
 * The calibration `npm run plan` simulates with: each service's CPU cost per request, idle CPU,
 * most CPU one process uses, working set and start-up time, measured on the running service
 * processes of `npm run bench:services` and written to services/calibration.json with the machine,
 * the Node.js version and the date.
 *
 * CPU is the process's user + system time (every thread, worker threads included) from
 * /proc/<pid>/stat on Linux (clock ticks, `getconf CLK_TCK`), `ps -o time=` elsewhere.
 */
import autocannon from "autocannon";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, platform, release } from "node:os";

let ticksPerSecond: number | undefined;

/** CPU time the process has used, in milliseconds. */
export function cpuMillisOf(pid: number): number {
    if (platform() === "linux") {
        ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
        // Fields after the command (which is in parentheses and may hold spaces): utime is the 14th, stime the 15th.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
    }
    const text = execFileSync("ps", ["-o", "time=", "-p", String(pid)], { encoding: "utf8" }).trim();
    const [days, clock] = text.includes("-") ? text.split("-") : ["0", text];
    const parts = (clock ?? "0").split(":").map(Number);
    const seconds = parts.reduce((acc, p) => acc * 60 + p, 0);
    return (Number(days) * 86400 + seconds) * 1000;
}

/** Resident set size in bytes (the working set metrics-server reports is close to it for Node.js). */
export function rssBytesOf(pid: number): number {
    if (platform() === "linux") {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        return Number(m?.[1] ?? 0) * 1024;
    }
    return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }).trim()) * 1024;
}

/** A running service to calibrate. */
export interface CalibrationTarget {
    name: string;
    pid: number;
    /** Seconds from spawn to the first 200 on /readyz. */
    startSeconds: number;
    /** The route, as `METHOD path`, and the request autocannon sends. */
    route: string;
    url: string;
    method: "GET" | "POST";
    body?: string;
}

/** One service's measured figures (the units are in {@link UNITS}). */
export interface ServiceCalibration {
    route: string;
    requests: number;
    cpuPerRequest: number;
    idleCpu: number;
    maxCpu: number;
    memoryBytes: number;
    startSeconds: number;
}

export const UNITS = {
    cpuPerRequest: "CPU milliseconds (of one core) per request, idle CPU subtracted (= millicore-seconds)",
    idleCpu: "millicores of an idle process",
    maxCpu: "millicores the process used when saturated (many connections, no rate limit); a lower bound where the load generator and upstreams share the machine's cores",
    memoryBytes: "resident set size after the fixed-rate run, bytes",
    startSeconds: "seconds from spawn to the first 200 on /readyz",
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function run(options: autocannon.Options): Promise<autocannon.Result> {
    return new Promise((resolve, reject) => {
        autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    });
}

/** Idle CPU over `idleSeconds`, then a fixed-rate run (the cost per request), then a saturating run (the most one process uses). */
export async function calibrate(target: CalibrationTarget, opts: { rate: number; seconds: number; idleSeconds: number; connections: number }): Promise<ServiceCalibration> {
    const request = { url: target.url, method: target.method, body: target.body, headers: target.body ? { "content-type": "application/json" } : {} };
    const idle0 = cpuMillisOf(target.pid);
    await sleep(opts.idleSeconds * 1000);
    const idleCpu = (cpuMillisOf(target.pid) - idle0) / opts.idleSeconds;

    await run({ ...request, connections: 2, overallRate: opts.rate, duration: 2 }); // warm-up: JIT
    const t0 = performance.now();
    const c0 = cpuMillisOf(target.pid);
    const fixed = await run({ ...request, connections: 4, overallRate: opts.rate, duration: opts.seconds });
    const elapsed = (performance.now() - t0) / 1000;
    const used = cpuMillisOf(target.pid) - c0;
    const ok = fixed.requests.total - fixed.non2xx - fixed.errors;
    const memoryBytes = rssBytesOf(target.pid);

    const s0 = performance.now();
    const sc0 = cpuMillisOf(target.pid);
    await run({ ...request, connections: opts.connections, duration: opts.seconds });
    const maxCpu = (cpuMillisOf(target.pid) - sc0) / ((performance.now() - s0) / 1000);

    const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
    return {
        route: target.route,
        requests: ok,
        cpuPerRequest: round(ok > 0 ? Math.max(0, used - idleCpu * elapsed) / ok : 0, 4),
        idleCpu: round(idleCpu, 2),
        maxCpu: Math.round(maxCpu),
        memoryBytes,
        startSeconds: round(target.startSeconds, 2),
    };
}

/** Write services/calibration.json. */
export function writeCalibration(file: string, services: Record<string, ServiceCalibration>, opts: { rate: number; seconds: number }): void {
    const doc = {
        measured: {
            date: new Date().toISOString(),
            node: process.version,
            os: `${platform()} ${release()}`,
            cpus: { model: cpus()[0]?.model ?? "unknown", count: cpus().length },
            command: "npm run bench:services",
            durationSeconds: opts.seconds,
            rate: opts.rate,
        },
        units: UNITS,
        services,
    };
    writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
}
