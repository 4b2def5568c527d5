/**
 * The load file of `npm run plan -- <stack> --load FILE` and the calibration it may override.
 *
 * ```yaml
 * duration: 900                 # seconds to simulate (1..86400)
 * shape: step                   # step (a rate holds until the next point, default) or linear
 * services:                     # requests per second each service serves; services left out get none
 *   backend:
 *     - { at: 0, rps: 50 }      # at: seconds from the start, in increasing order, below duration
 *     - { at: 60, rps: 800 }
 *     - { at: 600, rps: 50 }
 * calibration:                  # optional, per service, over services/calibration.json
 *   backend: { cpuPerRequest: 0.8, idleCpu: 2, memory: 90Mi, maxCpu: 1000, startSeconds: 0.5 }
 * cluster:                      # optional; the flags --pod-start and --node-delay win
 *   podStartSeconds: 5          # image pull and container start, after scheduling
 *   nodeProvisionSeconds: 120   # a new node's time to Ready after the Cluster Autoscaler asks
 * ```
 * Units: `cpuPerRequest` is milliseconds of one core per request (millicore-seconds); `idleCpu`
 * and `maxCpu` millicores; `memory` a Kubernetes quantity (the pod's working set).
 *
 * Every bad value is one line naming the file, the key, the value and what is allowed.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";
import { show, valueAt } from "../../components/config";
import { MEMORY_QUANTITY, memoryBytes } from "../../components/formats";
import { PlanInputError } from "./capacity";
import type { ServiceCost } from "./simulate";

const nonNegative = z.number({ error: "is not a number" }).min(0, "must be at least 0");
const positive = z.number({ error: "is not a number" }).positive("must be above 0");

const costOverride = z.strictObject({
    cpuPerRequest: nonNegative.optional(),
    idleCpu: nonNegative.optional(),
    memory: z.string().regex(MEMORY_QUANTITY, "is not a memory quantity (e.g. 90Mi)").optional(),
    maxCpu: positive.optional(),
    startSeconds: nonNegative.optional(),
});

const point = z.strictObject({
    at: z.number({ error: "is not a number of seconds" }).min(0, "must be at least 0 (seconds from the start)"),
    rps: z.number({ error: "is not a number of requests per second" }).min(0, "must be at least 0 (requests per second)"),
});

const loadSchema = z.strictObject({
    duration: z.number({ error: "is not a number of seconds" }).int("must be a whole number of seconds").min(1, "must be at least 1").max(86400, "must be at most 86400 (one day)"),
    shape: z.enum(["step", "linear"], { error: "is not allowed (allowed: step, linear)" }).default("step"),
    services: z.record(z.string(), z.array(point, { error: "is not a list of { at, rps } points" }).min(1, "must list at least one { at, rps } point")).default({}),
    calibration: z.record(z.string(), costOverride).default({}),
    cluster: z.strictObject({ podStartSeconds: nonNegative.optional(), nodeProvisionSeconds: nonNegative.optional() }).default({}),
});

/** The calibration keys a load file may override per service; all of them make a service's cost without services/calibration.json. */
export const COST_KEYS = Object.keys(costOverride.shape) as (keyof z.infer<typeof costOverride>)[];

/** A validated load file. */
export type LoadFile = z.infer<typeof loadSchema>;
/** Per-service overrides of the calibration. */
export type CostOverride = z.infer<typeof costOverride>;

function keyOf(path: readonly PropertyKey[]): string {
    return path.reduce<string>((k, p) => (typeof p === "number" ? `${k}[${p}]` : k === "" ? String(p) : `${k}.${String(p)}`), "");
}

/** One line per zod issue: `<file>: <key>: <value> <message>`. */
export function issueLines(file: string, error: z.ZodError, input: unknown): string[] {
    return error.issues.map((issue) => {
        if (issue.code === "unrecognized_keys") return `${file}: ${keyOf([...issue.path, issue.keys[0] ?? ""])}: is not a known key`;
        return `${file}: ${keyOf(issue.path)}: ${show(valueAt(input, issue.path))} ${issue.message}`;
    });
}

/** Parse and check a load file's text against the stack's services; throws one {@link PlanInputError} with a line per problem. */
export function parseLoad(file: string, text: string, serviceNames: readonly string[]): LoadFile {
    let doc: unknown;
    try {
        doc = parse(text);
    } catch (e) {
        throw new PlanInputError(`${file}: is not YAML (${(e as Error).message.split("\n")[0]})`);
    }
    const parsed = loadSchema.safeParse(doc);
    if (!parsed.success) throw new PlanInputError(issueLines(file, parsed.error, doc).join("\n"));
    const load = parsed.data;
    const problems: string[] = [];
    const allowed = `(allowed: ${serviceNames.join(", ")})`;
    for (const [section, names] of [["services", Object.keys(load.services)], ["calibration", Object.keys(load.calibration)]] as const) {
        for (const name of names) if (!serviceNames.includes(name)) problems.push(`${file}: ${section}.${name}: ${JSON.stringify(name)} is not a service of this stack ${allowed}`);
    }
    for (const [name, points] of Object.entries(load.services)) {
        points.forEach((p, i) => {
            const prev = points[i - 1];
            if (prev !== undefined && p.at <= prev.at) problems.push(`${file}: services.${name}[${i}].at: ${p.at} is not after the point before it (at ${prev.at}); points must be in increasing time order`);
            if (p.at >= load.duration) problems.push(`${file}: services.${name}[${i}].at: ${p.at} is not before duration ${load.duration}`);
        });
    }
    if (problems.length > 0) throw new PlanInputError(problems.join("\n"));
    return load;
}

/** Read a load file (checked readable by the caller); its lines name it as the user gave it (`shown`). */
export function readLoad(path: string, serviceNames: readonly string[], shown = path): LoadFile {
    return parseLoad(shown, readFileSync(path, "utf8"), serviceNames);
}

/** A service's offered load, one rate per second (a rate holds until the next point, or ramps linearly to it). */
export function ratePerSecond(points: readonly { at: number; rps: number }[], duration: number, shape: "step" | "linear"): Float64Array {
    const out = new Float64Array(duration);
    let k = 0;
    for (let t = 0; t < duration; t++) {
        while (k + 1 < points.length && (points[k + 1]?.at ?? Infinity) <= t) k++;
        const p = points[k];
        const next = points[k + 1];
        if (!p || p.at > t) continue;
        out[t] = shape === "linear" && next ? p.rps + ((next.rps - p.rps) * (t - p.at)) / (next.at - p.at) : p.rps;
    }
    return out;
}

/** A calibration with the load file's overrides applied. */
export function applyOverride(cost: ServiceCost, override: CostOverride | undefined): ServiceCost {
    if (!override) return cost;
    return {
        cpuPerRequest: override.cpuPerRequest ?? cost.cpuPerRequest,
        idleCpu: override.idleCpu ?? cost.idleCpu,
        memory: override.memory !== undefined ? memoryBytes(override.memory) : cost.memory,
        maxCpu: override.maxCpu ?? cost.maxCpu,
        startSeconds: override.startSeconds ?? cost.startSeconds,
    };
}
