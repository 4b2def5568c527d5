/**
 * What a user reads of a preview: per service, how long it lacked the replicas its load needed,
 * its peak replicas, the seconds it could not serve its load, and its peak pending pods; the
 * terminal table of those; and the services' calibration file.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseJsonText } from "../json-text";
import { PlanInputError } from "./capacity";
import { issueLines } from "./load";
import type { ServiceCost, ServiceResult, SimService } from "./simulate";

/** The numbers of one service's preview. */
export interface ServiceSummary {
    name: string;
    /** Most replicas the load needed to run at the CPU target (within min..max). */
    neededPeak: number;
    /** The same without the max: above neededPeak when even max replicas run above the target. */
    wantedPeak: number;
    /** Longest run of seconds with fewer ready replicas than the load needed; 0 when never short. */
    shortSeconds: number;
    /** Whether the last such run lasted to the end of the preview. */
    shortAtEnd: boolean;
    peakDesired: number;
    peakReady: number;
    /** Seconds the ready pods served less than the offered load. */
    saturatedSeconds: number;
    peakPending: number;
}

/**
 * Replicas a load needs so the pods run at the HPA's CPU target: `ceil(rps x cpuPerRequest /
 * (target x request - idle))`, within min and max.
 */
export function neededReplicas(rps: number, s: Pick<SimService, "requests" | "cost">, target: number | null, min: number, max: number): number {
    if (target === null || rps <= 0) return min;
    const room = (target / 100) * s.requests.cpu - s.cost.idleCpu;
    const n = room > 0 ? Math.ceil((rps * s.cost.cpuPerRequest) / room - 1e-9) : max;
    return Math.min(max, Math.max(min, n));
}

/** The summary of one service's series. */
export function summarize(result: ServiceResult, service: Pick<SimService, "requests" | "cost">): ServiceSummary {
    let neededPeak = result.minReplicas;
    let wantedPeak = result.minReplicas;
    let run = 0;
    let shortSeconds = 0;
    let saturatedSeconds = 0;
    let peakDesired = 0;
    let peakReady = 0;
    let peakPending = 0;
    for (const p of result.series) {
        const needed = neededReplicas(p.rps, service, result.cpuTarget, result.minReplicas, result.maxReplicas);
        neededPeak = Math.max(neededPeak, needed);
        wantedPeak = Math.max(wantedPeak, neededReplicas(p.rps, service, result.cpuTarget, result.minReplicas, Infinity));
        run = p.readyReplicas < needed ? run + 1 : 0;
        shortSeconds = Math.max(shortSeconds, run);
        if (p.servedRps < p.rps - 1e-6) saturatedSeconds++;
        peakDesired = Math.max(peakDesired, p.desiredReplicas);
        peakReady = Math.max(peakReady, p.readyReplicas);
        peakPending = Math.max(peakPending, p.pendingPods);
    }
    return { name: result.name, neededPeak, wantedPeak, shortSeconds, shortAtEnd: run > 0, peakDesired, peakReady, saturatedSeconds, peakPending };
}

/** The terminal table: one row per service. */
export function summaryTable(rows: readonly ServiceSummary[]): string {
    const head = ["service", "needed", "short of needed", "peak replicas (desired / ready)", "saturated", "peak pending"];
    const body = rows.map((r) => [
        r.name,
        r.wantedPeak > r.neededPeak ? `${r.neededPeak} (max; ${Number.isFinite(r.wantedPeak) ? r.wantedPeak : "no count"} for the target)` : String(r.neededPeak),
        r.shortSeconds === 0 ? "never" : `${r.shortSeconds} s${r.shortAtEnd ? " (still at the end)" : ""}`,
        `${r.peakDesired} / ${r.peakReady}`,
        `${r.saturatedSeconds} s`,
        String(r.peakPending),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
    return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

const calibrationSchema = z.strictObject({
    measured: z.strictObject({
        date: z.string(),
        node: z.string(),
        os: z.string(),
        cpus: z.strictObject({ model: z.string(), count: z.number().int().positive() }),
        command: z.string(),
        durationSeconds: z.number().positive(),
        rate: z.number().positive(),
    }),
    units: z.record(z.string(), z.string()),
    services: z.record(z.string(), z.strictObject({
        route: z.string(),
        requests: z.number().int().nonnegative(),
        cpuPerRequest: z.number().nonnegative(),
        idleCpu: z.number().nonnegative(),
        maxCpu: z.number().positive(),
        memoryBytes: z.number().positive(),
        startSeconds: z.number().nonnegative(),
    })),
});

/** services/calibration.json, as `npm run bench:services` writes it. */
export type Calibration = z.infer<typeof calibrationSchema>;

/** Read and check the calibration file. */
export function readCalibration(file: string): Calibration {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (e) {
        throw new PlanInputError(`${file}: cannot read the calibration (${(e as Error).message}); run npm run bench:services`);
    }
    const doc = parseJsonText(text, file, (line) => new PlanInputError(line));
    const parsed = calibrationSchema.safeParse(doc);
    if (!parsed.success) throw new PlanInputError(issueLines(file, parsed.error, doc).join("\n"));
    return parsed.data;
}

/** A service's cost from the calibration; undefined when the calibration does not list it. */
export function calibratedCost(calibration: Calibration, service: string): ServiceCost | undefined {
    const c = calibration.services[service];
    if (!c) return undefined;
    return { cpuPerRequest: c.cpuPerRequest, idleCpu: c.idleCpu, memory: c.memoryBytes, maxCpu: c.maxCpu, startSeconds: c.startSeconds };
}
