/**
 * `kubectl get hpa -n <namespace> -o json | npm run --silent hpa-check -- [--grows a,b] [--steady c,d] [--file FILE]`:
 * did the HorizontalPodAutoscalers named in `--grows` add pods (`status.currentReplicas` above
 * `spec.minReplicas`) while those in `--steady` stayed at their minimum (current and desired
 * replicas equal to `spec.minReplicas`)? Every one named must exist and have metrics
 * (`status.currentMetrics`; none means metrics-server has not reported yet), so the HPA is
 * actually deciding. Reads the `kubectl get hpa -o json` list from stdin, or FILE (absolute, or
 * relative to the directory npm was run in: ./user-files.ts).
 *
 * Prints one line per HPA that is not as asked, exits 1 when there is one, 2 on unusable input.
 * The e2e workflow (.github/workflows/e2e.yml) polls it while it loads one service.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { runCli } from "./cli";
import { parseJsonText } from "./json-text";
import { userFile } from "./user-files";

const hpaSchema = z.object({
    metadata: z.object({ name: z.string() }),
    spec: z.object({ minReplicas: z.number().int().default(1), maxReplicas: z.number().int() }),
    status: z.object({
        currentReplicas: z.number().int().default(0),
        desiredReplicas: z.number().int().default(0),
        currentMetrics: z.array(z.unknown()).nullish(),
    }).default({ currentReplicas: 0, desiredReplicas: 0 }),
});
const listSchema = z.object({ items: z.array(hpaSchema) });

/** What an HPA reports, as far as this check reads it. */
export type Hpa = z.output<typeof hpaSchema>;

/** The HPAs of a `kubectl get hpa -o json` list; throws one line when it is not one. */
export function parseHpaList(json: string, source: string): Hpa[] {
    const result = listSchema.safeParse(parseJsonText(json, source));
    if (!result.success) {
        const issue = result.error.issues[0]!;
        throw new Error(`${source}: is not the output of kubectl get hpa -o json (${issue.path.join(".")}: ${issue.message})`);
    }
    return result.data.items;
}

/** One line per HPA that is not as asked (missing, no metrics, not grown, not at its minimum); empty when all are. */
export function hpaProblems(hpas: Hpa[], grows: string[], steady: string[]): string[] {
    const byName = new Map(hpas.map((h) => [h.metadata.name, h]));
    const check = (name: string, expectation: "grows" | "steady"): string | undefined => {
        const hpa = byName.get(name);
        if (hpa === undefined) return `${name}: no such HorizontalPodAutoscaler (there are: ${[...byName.keys()].join(", ") || "none"})`;
        const { minReplicas, maxReplicas } = hpa.spec;
        const { currentReplicas, desiredReplicas, currentMetrics } = hpa.status;
        const state = `${currentReplicas} replicas (desired ${desiredReplicas}, min ${minReplicas}, max ${maxReplicas})`;
        if (!currentMetrics || currentMetrics.length === 0) return `${name}: no metrics yet (metrics-server has not reported); ${state}`;
        if (expectation === "grows" && currentReplicas <= minReplicas) return `${name}: has not grown: ${state}`;
        if (expectation === "steady" && (currentReplicas !== minReplicas || desiredReplicas !== minReplicas)) return `${name}: is not at its minimum: ${state}`;
        return undefined;
    };
    return [...grows.map((n) => check(n, "grows")), ...steady.map((n) => check(n, "steady"))].filter((line): line is string => line !== undefined);
}

const names = (value: string | undefined) => (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);

/** The command line; `stdin` is read when no --file is given. Returns the exit code. */
export function main(argv: string[], stdin: () => string = () => readFileSync(0, "utf8"), print: (line: string) => void = console.log): number {
    const usage = "usage: kubectl get hpa -n <namespace> -o json | npm run --silent hpa-check -- [--grows a,b] [--steady c,d] [--file FILE]";
    let values: { grows?: string; steady?: string; file?: string };
    try {
        ({ values } = parseArgs({ args: argv, options: { grows: { type: "string" }, steady: { type: "string" }, file: { type: "string" } } }));
    } catch (err) {
        print(`${(err as Error).message}; ${usage}`);
        return 2;
    }
    const [grows, steady] = [names(values.grows), names(values.steady)];
    if (grows.length + steady.length === 0) {
        print(`name at least one HorizontalPodAutoscaler; ${usage}`);
        return 2;
    }
    let hpas: Hpa[];
    try {
        hpas = parseHpaList(values.file === undefined ? stdin() : readFileSync(userFile("--file", values.file), "utf8"), values.file ?? "stdin");
    } catch (err) {
        print((err as Error).message);
        return 2;
    }
    const problems = hpaProblems(hpas, grows, steady);
    for (const line of problems) print(line);
    if (problems.length === 0) print(`hpa-check: ${[...grows.map((n) => `${n} grew`), ...steady.map((n) => `${n} at its minimum`)].join(", ")}`);
    return problems.length === 0 ? 0 : 1;
}

if (require.main === module) runCli(() => main(process.argv.slice(2)));
