/**
 * `npm run smoke -- <stack> [--endpoints FILE]`: after `pulumi up`, check every service through
 * its load balancer.
 *
 * Reads the stack's `endpoints` output (`pulumi stack output endpoints --json -s <stack>`, or FILE
 * in that shape: `{ "<service>": { "name", "namespace", "address", "url" } }`; absolute, or relative
 * to the directory npm was run in: ./user-files.ts) and, per service:
 * - its readiness through its own load balancer (`GET <url>/readyz`);
 * - one real API call through backend: backend `GET /api/hello`; messages: publish a message and
 *   read it back (`POST` and `GET /api/messages`); reports: build a report and fetch it by id
 *   (`POST /api/reports`, `GET /api/reports/:id`);
 * - the JSON error shape (`{ "error", "message" }`, status 400) of a bad request sent to it.
 * Each endpoint's `url` is used; when it is empty, `http://<address>` (and a line says so); a
 * service with neither has no load balancer and is checked through backend only.
 *
 * Prints one line per service (`<service>: ok`, or what failed), exits 1 when any failed, 2 on
 * unusable input (no such FILE, malformed JSON, an endpoint without an address).
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs, promisify } from "node:util";
import { z } from "zod";
import { runCli } from "./cli";
import { parseJsonText } from "./json-text";
import { UserFileError, userFile } from "./user-files";

/** Unusable input: one line, exit 2. */
export class SmokeInputError extends Error {
    override name = "SmokeInputError";
}

const text = (what: string) => z.string({ error: (issue) => (issue.input === undefined ? `is missing (${what})` : `must be a string (${what})`) });
const endpointSchema = z.object({
    address: text("the load balancer's IP or hostname, empty without one"),
    url: text("the load balancer's URL, empty without one").default(""),
});
const endpointsSchema = z.record(z.string(), endpointSchema, { error: "must be an object of service name to endpoint" });

/** One service's endpoint, as the `endpoints` stack output gives it. */
export type Endpoint = z.output<typeof endpointSchema>;

/** The `endpoints` output (JSON text) of `source`, validated; throws {@link SmokeInputError}. */
export function parseEndpoints(json: string, source: string): Record<string, Endpoint> {
    const result = endpointsSchema.safeParse(parseJsonText(json, source, (line) => new SmokeInputError(line)));
    if (!result.success) {
        throw new SmokeInputError(result.error.issues.map((issue) => `${source}: ${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`).join("\n"));
    }
    if (!("backend" in result.data)) throw new SmokeInputError(`${source}: has no backend endpoint; the smoke test calls every service through backend (services: ${Object.keys(result.data).join(", ") || "none"})`);
    return result.data;
}

/** Where a service's load balancer is: its `url`, else `http://<address>` (with a note), else none. */
export function baseUrl(endpoint: Endpoint): { url?: string; note?: string } {
    if (endpoint.url !== "") return { url: endpoint.url.replace(/\/+$/, "") };
    if (endpoint.address !== "") return { url: `http://${endpoint.address}`, note: `url is empty, using http://${endpoint.address} (its address)` };
    return { note: "no load balancer (address and url are empty): checked through backend only" };
}

interface Answer {
    status: number;
    body: unknown;
    text: string;
}

/** Options of {@link smoke}. */
export interface SmokeOptions {
    /** Deadline of one request; default 15 s. */
    timeoutMs?: number;
    /** Tries of a request answered 503 with `Retry-After` (a busy reports sheds load); default 5. */
    tries?: number;
}

/** `method url` with an optional JSON body; a failure to connect or a timeout throws, with the cause. */
async function call(method: "GET" | "POST", url: string, body: unknown, { timeoutMs = 15_000, tries = 5 }: SmokeOptions): Promise<Answer> {
    for (let attempt = 1; ; attempt++) {
        let response: Response;
        try {
            response = await fetch(url, {
                method,
                headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
                body: body === undefined ? undefined : JSON.stringify(body),
                signal: AbortSignal.timeout(timeoutMs),
            });
        } catch (err) {
            const cause = (err as Error).cause as { code?: string; message?: string } | undefined;
            throw new Error(`${method} ${url}: ${(err as Error).name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : `cannot connect (${cause?.code ?? cause?.message ?? (err as Error).message})`}`);
        }
        const retryAfter = Number(response.headers.get("retry-after"));
        const content = await response.text();
        if (response.status === 503 && retryAfter > 0 && attempt < tries) {
            await new Promise((done) => setTimeout(done, Math.min(retryAfter, 5) * 1000));
            continue;
        }
        let parsed: unknown;
        try {
            parsed = content === "" ? undefined : JSON.parse(content);
        } catch {
            parsed = undefined;
        }
        return { status: response.status, body: parsed, text: content };
    }
}

/** Throws unless `answer` has `status`; the message names the request and what came back. */
function expectStatus(answer: Answer, status: number, what: string): void {
    if (answer.status !== status) throw new Error(`${what} answered ${answer.status}${answer.text ? ` ${answer.text.slice(0, 200)}` : ""} (expected ${status})`);
}

const record = (value: unknown): Record<string, unknown> => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/** A bad request must be a 400 with the services' error shape, `{ "error": <string>, "message": <string> }`. */
async function errorShape(method: "GET" | "POST", url: string, body: unknown, options: SmokeOptions): Promise<void> {
    const answer = await call(method, url, body, options);
    expectStatus(answer, 400, `bad request ${method} ${url}`);
    const { error, message } = record(answer.body);
    if (typeof error !== "string" || typeof message !== "string") throw new Error(`bad request ${method} ${url}: the 400 is not {"error","message"} JSON: ${answer.text.slice(0, 200)}`);
}

/** Each service's API call through backend, and the bad request sent to its own load balancer. */
const CHECKS: Record<string, { api?: (backend: string, options: SmokeOptions) => Promise<void>; badRequest?: (url: string, options: SmokeOptions) => Promise<void> }> = {
    backend: {
        async api(backend, options) {
            const answer = await call("GET", `${backend}/api/hello`, undefined, options);
            expectStatus(answer, 200, `GET ${backend}/api/hello`);
            if (typeof record(answer.body).message !== "string") throw new Error(`GET ${backend}/api/hello: no message in ${answer.text.slice(0, 200)}`);
        },
        badRequest: (url, options) => errorShape("POST", `${url}/api/reports`, { size: "large" }, options),
    },
    messages: {
        async api(backend, options) {
            const topic = `smoke-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
            const body = `smoke test at ${new Date().toISOString()}`;
            expectStatus(await call("POST", `${backend}/api/messages`, { topic, body }, options), 201, `publish: POST ${backend}/api/messages`);
            const read = await call("GET", `${backend}/api/messages?topic=${topic}`, undefined, options);
            expectStatus(read, 200, `read: GET ${backend}/api/messages?topic=${topic}`);
            const messages = record(read.body).messages;
            if (!Array.isArray(messages) || !messages.some((m) => record(m).body === body)) throw new Error(`read: GET ${backend}/api/messages?topic=${topic} does not return the message just published: ${read.text.slice(0, 200)}`);
        },
        badRequest: (url, options) => errorShape("GET", `${url}/topics/smoke/messages?limit=0`, undefined, options),
    },
    reports: {
        async api(backend, options) {
            const built = await call("POST", `${backend}/api/reports`, { size: 1000, seed: 7 }, options);
            expectStatus(built, 201, `build: POST ${backend}/api/reports`);
            const id = record(built.body).id;
            if (typeof id !== "string") throw new Error(`build: POST ${backend}/api/reports: no report id in ${built.text.slice(0, 200)}`);
            const fetched = await call("GET", `${backend}/api/reports/${encodeURIComponent(id)}`, undefined, options);
            expectStatus(fetched, 200, `fetch: GET ${backend}/api/reports/${id}`);
            if (JSON.stringify(fetched.body) !== JSON.stringify(built.body)) throw new Error(`fetch: GET ${backend}/api/reports/${id} is not the report just built`);
        },
        badRequest: (url, options) => errorShape("POST", `${url}/reports`, { size: 0 }, options),
    },
};

/** One service's outcome: what failed (empty when it passed) and notes worth a line. */
export interface SmokeResult {
    service: string;
    failures: string[];
    notes: string[];
}

/** Run every check of every service; never throws for a failing service. */
export async function smoke(endpoints: Record<string, Endpoint>, options: SmokeOptions = {}): Promise<SmokeResult[]> {
    const backend = baseUrl(endpoints.backend!).url;
    return Promise.all(Object.entries(endpoints).map(async ([service, endpoint]) => {
        const { url, note } = baseUrl(endpoint);
        const checks = CHECKS[service] ?? {};
        const steps: Array<[string, () => Promise<void>]> = [];
        if (url !== undefined) {
            steps.push(["readiness", async () => expectStatus(await call("GET", `${url}/readyz`, undefined, options), 200, `GET ${url}/readyz`)]);
        }
        if (checks.api) {
            const api = checks.api;
            steps.push(["API through backend", async () => {
                if (backend === undefined) throw new Error("backend has no load balancer to call it through");
                await api(backend, options);
            }]);
        }
        if (checks.badRequest && url !== undefined) steps.push(["error shape", () => checks.badRequest!(url, options)]);
        const failures: string[] = [];
        for (const [what, step] of steps) {
            try {
                await step();
            } catch (err) {
                failures.push(`${what}: ${(err as Error).message}`);
            }
        }
        return { service, failures, notes: note === undefined ? [] : [note] };
    }));
}

/** The lines to print for the results: notes, then one line per service. */
export function report(results: SmokeResult[]): string[] {
    return results.flatMap((r) => [...r.notes.map((n) => `${r.service}: ${n}`), r.failures.length === 0 ? `${r.service}: ok` : `${r.service}: FAILED: ${r.failures.join("; ")}`]);
}

/** The endpoints of `stack` from the Pulumi CLI, or from `file`; throws {@link SmokeInputError} or {@link UserFileError}. */
export async function readEndpoints(stack: string, file: string | undefined): Promise<Record<string, Endpoint>> {
    if (file !== undefined) return parseEndpoints(readFileSync(userFile("--endpoints", file), "utf8"), file);
    try {
        const { stdout } = await promisify(execFile)("pulumi", ["stack", "output", "endpoints", "--json", "--stack", stack], { maxBuffer: 16 * 1024 * 1024 });
        return parseEndpoints(stdout, `pulumi stack output endpoints -s ${stack}`);
    } catch (err) {
        if (err instanceof SmokeInputError) throw err;
        const e = err as NodeJS.ErrnoException & { stderr?: string };
        if (e.code === "ENOENT") throw new SmokeInputError("pulumi: not found on PATH; install the Pulumi CLI (https://www.pulumi.com/docs/install/) or pass --endpoints FILE");
        throw new SmokeInputError(`pulumi stack output endpoints -s ${stack}: ${(e.stderr ?? e.message).trim().split("\n")[0]}`);
    }
}

/** The command line; returns the exit code. */
export async function main(argv: string[], print: (line: string) => void = console.log, printError: (line: string) => void = console.error): Promise<number> {
    let values: { endpoints?: string };
    let positionals: string[];
    try {
        ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { endpoints: { type: "string" } } }));
    } catch (err) {
        printError(`${(err as Error).message}; usage: npm run smoke -- <stack> [--endpoints FILE]`);
        return 2;
    }
    if (positionals.length !== 1) {
        printError("usage: npm run smoke -- <stack> [--endpoints FILE]   (e.g. dev; FILE: the JSON of `pulumi stack output endpoints --json`)");
        return 2;
    }
    let endpoints: Record<string, Endpoint>;
    try {
        endpoints = await readEndpoints(positionals[0]!, values.endpoints);
    } catch (err) {
        if (!(err instanceof SmokeInputError) && !(err instanceof UserFileError)) throw err;
        printError(err.message);
        return 2;
    }
    const results = await smoke(endpoints);
    for (const line of report(results)) print(line);
    return results.some((r) => r.failures.length > 0) ? 1 : 0;
}

if (require.main === module) runCli(() => main(process.argv.slice(2)));
