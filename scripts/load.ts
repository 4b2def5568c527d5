/**
 * `npm run load -- <url> [--seconds N] [--connections N]`: load one URL for a while, to watch a
 * service's HorizontalPodAutoscaler react (e.g. `<reports url>/reports/200000-7`, each request a
 * CPU-heavy report). `--connections` (default 16) requests are kept in flight for `--seconds`
 * (default 60); then one line: how many requests, how many per second, how many per status.
 *
 * Exits 0 when any request succeeded (2xx), 1 when none did, 2 on unusable arguments.
 */
import { parseArgs } from "node:util";
import { runCli } from "./cli";

/** What a load run did. */
export interface LoadResult {
    requests: number;
    seconds: number;
    /** Responses per HTTP status. */
    statuses: Record<number, number>;
    /** Requests that got no response (refused, reset, timed out), by cause. */
    errors: Record<string, number>;
}

/** Send GET `url` from `connections` concurrent loops until `seconds` have passed. */
export async function load(url: string, seconds: number, connections: number): Promise<LoadResult> {
    const result: LoadResult = { requests: 0, seconds, statuses: {}, errors: {} };
    const started = Date.now();
    const deadline = started + seconds * 1000;
    const loop = async (): Promise<void> => {
        while (Date.now() < deadline) {
            result.requests++;
            try {
                const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now()) + 10_000) });
                await response.arrayBuffer();
                result.statuses[response.status] = (result.statuses[response.status] ?? 0) + 1;
            } catch (err) {
                const cause = ((err as Error).cause as { code?: string } | undefined)?.code ?? (err as Error).name;
                result.errors[cause] = (result.errors[cause] ?? 0) + 1;
                // A refused connection fails at once: do not spin.
                await new Promise((done) => setTimeout(done, 100));
            }
        }
    };
    await Promise.all(Array.from({ length: connections }, loop));
    result.seconds = (Date.now() - started) / 1000;
    return result;
}

/** The summary line of a run. */
export function summary(url: string, r: LoadResult): string {
    const counts = [...Object.entries(r.statuses).map(([status, n]) => `${status}: ${n}`), ...Object.entries(r.errors).map(([cause, n]) => `${cause}: ${n}`)];
    return `${url}: ${r.requests} requests in ${r.seconds.toFixed(1)} s (${(r.requests / r.seconds).toFixed(1)}/s); ${counts.join(", ") || "no answers"}`;
}

const USAGE = "usage: npm run load -- <url> [--seconds N (default 60)] [--connections N (default 16)]";

/** A whole number in [min, max] from `--name`, or the reason it is not one. */
function count(name: string, value: string | undefined, fallback: number, max: number): number | string {
    if (value === undefined) return fallback;
    const n = Number(value);
    return /^[0-9]+$/.test(value) && n >= 1 && n <= max ? n : `--${name}: ${JSON.stringify(value)} is not a whole number from 1 to ${max}`;
}

/** The command line; returns the exit code. */
export async function main(argv: string[], print: (line: string) => void = console.log, printError: (line: string) => void = console.error): Promise<number> {
    let values: { seconds?: string; connections?: string };
    let positionals: string[];
    try {
        ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { seconds: { type: "string" }, connections: { type: "string" } } }));
    } catch (err) {
        printError(`${(err as Error).message}; ${USAGE}`);
        return 2;
    }
    const [url, ...extra] = positionals;
    if (url === undefined || extra.length > 0) {
        printError(USAGE);
        return 2;
    }
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
        printError(`${JSON.stringify(url)} is not an http(s) URL; ${USAGE}`);
        return 2;
    }
    const seconds = count("seconds", values.seconds, 60, 3600);
    const connections = count("connections", values.connections, 16, 1000);
    if (typeof seconds === "string" || typeof connections === "string") {
        printError(typeof seconds === "string" ? seconds : String(connections));
        return 2;
    }
    const result = await load(url, seconds, connections);
    print(summary(url, result));
    return Object.entries(result.statuses).some(([status]) => Number(status) >= 200 && Number(status) < 300) ? 0 : 1;
}

if (require.main === module) runCli(() => main(process.argv.slice(2)));
