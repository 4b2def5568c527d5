/**
 * `npm run bench:services`: throughput and latency of backend's hello route and of a report
 * request (backend -> reports), next to a bare node:http hello server measured in the same run,
 * the time of one largest report (reports' defaults; services/README.md relates it to backend's
 * UPSTREAM_TIMEOUT_MS), and messages' publish and read throughput with one and with two messages
 * processes on one redis-server (the same connections in total, split over the processes).
 *
 * Runs the compiled services (`services/<name>/dist`, built by the npm script first) and a
 * redis-server (Debian's, as in the tests) as real processes on 127.0.0.1, logging at info as in
 * production (to files under the OS temp dir), and drives them with autocannon from this process.
 *
 * Then it calibrates `npm run plan` (./calibration.ts): each service's CPU per request on a
 * representative route at a fixed rate, idle CPU, most CPU when saturated, memory and start-up
 * time, written to services/calibration.json (committed, with the machine and date).
 *
 * Environment: BENCH_DURATION (seconds per target, default 10), BENCH_CONNECTIONS (default 10),
 * BENCH_REPORT_SIZE (samples per report, default 10000), BENCH_CALIBRATION_RATE (requests per
 * second of the fixed-rate run, default 100), BENCH_SKIP_THROUGHPUT=1 (calibration only).
 */
import autocannon from "autocannon";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../kit/test/support";
import { RedisServer } from "../messages/test/redis-server";
import { calibrate, type ServiceCalibration, writeCalibration } from "./calibration";

const SERVICES_DIR = join(__dirname, "..");
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const REPORT_SIZE = Number(process.env.BENCH_REPORT_SIZE ?? 10_000);
const LOG_DIR = mkdtempSync(join(tmpdir(), "kubeforge-bench-"));
const CALIBRATION_RATE = Number(process.env.BENCH_CALIBRATION_RATE ?? 100);

const BARE_HELLO = `require("node:http").createServer((req, res) => {
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.end(JSON.stringify({ message: "hello from kubeforge" }));
}).listen(Number(process.env.PORT), "127.0.0.1");`;

const children: ChildProcess[] = [];
const stores: RedisServer[] = [];
/** pid and start-up time (spawn to the first 200 on the ready path) of each started process, by name. */
const started = new Map<string, { pid: number; startSeconds: number }>();

async function waitReady(url: string, path: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
        try {
            if ((await fetch(url + path)).ok) return;
        } catch {
            // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${url}${path} did not become ready`);
}

/** Starts `node <args>` with PORT set (METRICS_PORT: any free port) and waits until `readyPath` answers 200. */
async function start(name: string, args: string[], env: Record<string, string>, readyPath: string): Promise<string> {
    const port = await freePort();
    const log = openSync(join(LOG_DIR, `${name}.log`), "w");
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, args, {
        cwd: SERVICES_DIR,
        env: { PATH: process.env.PATH, NODE_ENV: "production", HOST: "127.0.0.1", PORT: String(port), METRICS_PORT: "0", ...env },
        stdio: ["ignore", log, log],
    });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url, readyPath);
    started.set(name, { pid: child.pid ?? 0, startSeconds: (performance.now() - spawnedAt) / 1000 });
    return url;
}

interface Target {
    name: string;
    /** One URL, or one per process: the connections are split over them, measured at once. */
    url: string | string[];
    method?: "GET" | "POST";
    body?: string;
    /** Concurrent connections; default BENCH_CONNECTIONS. */
    connections?: number;
}

interface Row {
    target: string;
    rps: number;
    p50: number;
    p99: number;
    requests: number;
    failures: number;
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: number[], p: number): number {
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

/**
 * One autocannon run; latencies are taken from its per-response timings (autocannon's own
 * histogram rounds to whole milliseconds, too coarse for a hello route).
 */
function run(options: autocannon.Options): Promise<{ result: autocannon.Result; latencies: number[] }> {
    const latencies: number[] = [];
    return new Promise((resolve, reject) => {
        const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve({ result, latencies })));
        instance.on("response", (_client, status, _bytes, ms) => {
            if (status >= 200 && status < 300) latencies.push(ms);
        });
    });
}

async function measure(target: Target): Promise<Row> {
    const urls = typeof target.url === "string" ? [target.url] : target.url;
    const connections = target.connections ?? CONNECTIONS;
    const options = (url: string, i: number) => ({
        url,
        // Split evenly; the first processes take the remainder.
        connections: Math.floor(connections / urls.length) + (i < connections % urls.length ? 1 : 0),
        method: target.method ?? "GET",
        body: target.body,
        headers: target.body ? { "content-type": "application/json" } : {},
    });
    await Promise.all(urls.map((url, i) => run({ ...options(url, i), duration: 2 }))); // warm-up: JIT, connection pools
    const runs = await Promise.all(urls.map((url, i) => run({ ...options(url, i), duration: DURATION })));
    const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
    return {
        target: target.name,
        rps: Math.round(runs.reduce((sum, r) => sum + r.result.requests.average, 0)),
        p50: Math.round(percentile(latencies, 50) * 100) / 100,
        p99: Math.round(percentile(latencies, 99) * 100) / 100,
        requests: runs.reduce((sum, r) => sum + r.result.requests.total, 0),
        failures: runs.reduce((sum, r) => sum + r.result.errors + r.result.non2xx, 0),
    };
}

/** messages (on `store`), reports and backend (calling both), started under names with `prefix`. */
async function startServices(prefix: string, store: RedisServer): Promise<{ messages: string; reports: string; backend: string }> {
    const messages = await start(`${prefix}messages`, ["messages/dist/main.js"], { STORE_URL: store.url }, "/readyz");
    const reports = await start(`${prefix}reports`, ["reports/dist/main.js"], {}, "/readyz");
    const backend = await start(`${prefix}backend`, ["backend/dist/main.js"], { MESSAGES_URL: messages, REPORTS_URL: reports }, "/readyz");
    return { messages, reports, backend };
}

async function main(): Promise<void> {
    const store = await RedisServer.start();
    stores.push(store);

    if (process.env.BENCH_SKIP_THROUGHPUT !== "1") {
        const baseline = await start("baseline", ["-e", BARE_HELLO], {}, "/");
        const { messages, reports, backend } = await startServices("", store);
        const messages2 = await start("messages-2", ["messages/dist/main.js"], { STORE_URL: store.url }, "/readyz");
        await throughput({ baseline, backend, reports, messages: [messages, messages2] });
        // The throughput runs leave V8 heaps grown; calibrate on fresh processes.
        for (const child of children.splice(0)) child.kill("SIGTERM");
    }

    // Calibration for `npm run plan`: one representative route per service, each measured on a
    // fresh process before anything else loads it (backend last: its route loads messages too).
    const fresh = await startServices("calibration-", store);
    const targets = [
        { name: "messages", route: "POST /topics/bench/messages", url: `${fresh.messages}/topics/bench/messages`, method: "POST" as const, body: JSON.stringify({ body: "hello from the bench" }) },
        { name: "reports", route: `POST /reports (size ${REPORT_SIZE})`, url: `${fresh.reports}/reports`, method: "POST" as const, body: JSON.stringify({ size: REPORT_SIZE }) },
        { name: "backend", route: "GET /api/messages?topic=bench&limit=20 (proxied to messages)", url: `${fresh.backend}/api/messages?topic=bench&limit=20`, method: "GET" as const },
    ];
    const measured: Record<string, ServiceCalibration> = {};
    for (const t of targets) {
        const proc = started.get(`calibration-${t.name}`);
        if (!proc) throw new Error(`${t.name} was not started`);
        measured[t.name] = await calibrate({ ...t, ...proc }, { rate: CALIBRATION_RATE, seconds: DURATION, idleSeconds: 5, connections: CONNECTIONS });
    }
    const calibration = Object.fromEntries(["backend", "messages", "reports"].map((name) => [name, measured[name] as ServiceCalibration]));
    const file = join(SERVICES_DIR, "calibration.json");
    writeCalibration(file, calibration, { rate: CALIBRATION_RATE, seconds: DURATION });
    console.log(`\ncalibration for npm run plan (${CALIBRATION_RATE} req/s for ${DURATION} s per service), written to ${file}:`);
    for (const [name, c] of Object.entries(calibration)) {
        console.log(`${name.padEnd(8)} ${c.cpuPerRequest} ms CPU/request on ${c.route}; idle ${c.idleCpu}m; saturated ${c.maxCpu}m; RSS ${Math.round(c.memoryBytes / 2 ** 20)}Mi; ready after ${c.startSeconds} s`);
    }
}

/** Base URLs of the processes the throughput targets run against. */
interface Processes {
    baseline: string;
    backend: string;
    reports: string;
    /** Two messages processes on one store. */
    messages: [string, string];
}

async function throughput({ baseline, backend, reports, messages: [messages, messages2] }: Processes): Promise<void> {
    const publish = JSON.stringify({ body: "a message of about a hundred bytes, as a chat line or an event would be, published to one topic" });
    const topic = (url: string) => `${url}/topics/bench/messages`;
    const rows: Row[] = [];
    for (const target of [
        { name: "baseline: bare node:http hello", url: `${baseline}/` },
        { name: "backend GET /api/hello", url: `${backend}/api/hello` },
        { name: `backend POST /api/reports (size ${REPORT_SIZE}, via reports)`, url: `${backend}/api/reports`, method: "POST" as const, body: JSON.stringify({ size: REPORT_SIZE }) },
        { name: "reports POST /reports (size 1000000, 1 connection)", url: `${reports}/reports`, method: "POST" as const, body: JSON.stringify({ size: 1_000_000 }), connections: 1 },
        { name: "messages POST publish, 1 process", url: topic(messages), method: "POST" as const, body: publish },
        { name: "messages POST publish, 2 processes, one store", url: [topic(messages), topic(messages2)], method: "POST" as const, body: publish },
        { name: "messages GET read (20 messages), 1 process", url: topic(messages) },
        { name: "messages GET read (20 messages), 2 processes, one store", url: [topic(messages), topic(messages2)] },
    ]) {
        rows.push(await measure(target));
    }

    const width = Math.max(...rows.map((r) => r.target.length));
    console.log(`\n${CONNECTIONS} connections unless noted (split evenly over the processes where there are two), ${DURATION} s per target (after a 2 s warm-up), node ${process.version}; logs in ${LOG_DIR}\n`);
    console.log(`${"target".padEnd(width)} | ${"req/s".padStart(7)} | ${"p50 ms".padStart(6)} | ${"p99 ms".padStart(6)} | ${"requests".padStart(8)} | failures`);
    console.log(`${"-".repeat(width)}-|-${"-".repeat(7)}-|-${"-".repeat(6)}-|-${"-".repeat(6)}-|-${"-".repeat(8)}-|---------`);
    for (const r of rows) {
        console.log(`${r.target.padEnd(width)} | ${String(r.rps).padStart(7)} | ${String(r.p50).padStart(6)} | ${String(r.p99).padStart(6)} | ${String(r.requests).padStart(8)} | ${r.failures}`);
    }
    if (rows.some((r) => r.failures > 0)) process.exitCode = 1;
}

main()
    .catch((error: unknown) => {
        console.error(error instanceof Error ? error.message : error);
        process.exitCode = 1;
    })
    .finally(async () => {
        for (const child of children) child.kill("SIGTERM");
        for (const store of stores) await store.stop();
    });
