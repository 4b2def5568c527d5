/**
 * Test support shared by the services' tests: start a service in-process or as a real child
 * process on 127.0.0.1 with an ephemeral port, speak JSON over real HTTP, read /metrics.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { z } from "zod";
import { type BaseEnv, type RunningService, type ServiceDefinition, loadEnv, startService } from "../src";
import { type Exposition, parsePrometheusText, sampleValue } from "./prometheus-text";

/** The services/ directory. */
export const SERVICES_DIR = join(__dirname, "..", "..");

/** Environment that puts a service (and its metrics listener) on free ports of 127.0.0.1, quietly. */
const TEST_ENV = { PORT: "0", METRICS_PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" };

/** Starts `definition` in this process with `env` over the test defaults. */
export function startInProcess<E extends BaseEnv>(
    definition: ServiceDefinition<E>,
    schema: z.ZodType<E, Record<string, string | undefined>>,
    env: Record<string, string> = {},
): Promise<RunningService> {
    return startService(definition, loadEnv(schema, { ...TEST_ENV, ...env }));
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer().listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
        });
    });
}

/** A service running as a child process. */
export interface ChildService {
    child: ChildProcess;
    /** Base URL, from its `listening` log line. */
    url: string;
    /** Every JSON log line it wrote so far. */
    logs: Array<Record<string, unknown>>;
    /** Resolves with the exit code (null when killed by a signal) once it exits. */
    exited: Promise<number | null>;
}

/**
 * Runs `services/<name>/src/main.ts` as a real Node process (from source, through tsx and the
 * `development` export condition) and waits until it logs that it is ready.
 */
export function spawnService(name: string, env: Record<string, string> = {}): Promise<ChildService> {
    const child = spawn(process.execPath, ["--conditions=development", "--import", "tsx", join(name, "src", "main.ts")], {
        cwd: SERVICES_DIR,
        env: { PATH: process.env.PATH, ...TEST_ENV, LOG_LEVEL: "info", ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    const logs: Array<Record<string, unknown>> = [];
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return new Promise((resolve, reject) => {
        let url = "";
        createInterface({ input: child.stdout! }).on("line", (line) => {
            const entry = JSON.parse(line) as Record<string, unknown>;
            logs.push(entry);
            if (entry.msg === "listening") url = String(entry.url);
            if (entry.msg === "ready") resolve({ child, url, logs, exited });
        });
        void exited.then((code) => reject(new Error(`${name} exited with ${code} before listening: ${stderr}`)));
    });
}

/** Runs `services/<name>/src/main.ts` to completion; its exit code and stderr. */
export async function runToExit(name: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, ["--conditions=development", "--import", "tsx", join(name, "src", "main.ts")], {
        cwd: SERVICES_DIR,
        env: { PATH: process.env.PATH, ...env },
        stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, stderr };
}

/** A JSON answer. */
export interface JsonResponse {
    status: number;
    headers: Headers;
    body: unknown;
}

/** Sends `method url` with an optional body (objects as JSON, strings as they are). */
export async function request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
        init.body = typeof body === "string" ? body : JSON.stringify(body);
        init.headers = { "content-type": "application/json", ...headers };
    }
    const response = await fetch(url, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Fetches and parses `<metricsUrl>/metrics` (Prometheus text format, strictly). */
export async function scrape(metricsUrl: string): Promise<Exposition> {
    const response = await fetch(`${metricsUrl}/metrics`);
    if (!response.headers.get("content-type")?.startsWith("text/plain; version=0.0.4")) throw new Error("metrics are not Prometheus text");
    return parsePrometheusText(await response.text());
}

/** Value of `http_requests_total` for a route and status (0 when absent). */
export function requestCount(exposition: Exposition, route: string, status: number, method = "GET"): number {
    return sampleValue(exposition, "http_requests_total", { route, status_code: String(status), method });
}
