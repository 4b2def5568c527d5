/**
 * reports: builds a report on request (CPU-heavy, sized by the caller) and returns it.
 *
 * - `POST /reports` `{ "size": <samples>, "seed"?: <uint32> }` -> 201 with the {@link Report}
 * - `GET /reports/:id` -> 200 with the report of that id (rebuilt: reports are deterministic)
 *
 * Reports are built on a pool of worker threads, so the event loop stays free for probes,
 * metrics and other requests however busy the pod is. The work accepted is bounded so that a
 * report never waits longer than backend waits for it (services/README.md, "Timeouts and
 * queues"): past that the service sheds load with a 503 and `Retry-After` instead of building
 * reports nobody is waiting for any more.
 */
import { extname, join } from "node:path";
import { HttpError, baseEnv, intVar, parseInput, type ServiceDefinition } from "@kubeforge/service-kit";
import { Piscina } from "piscina";
import { z } from "zod";
import { type Report, buildReportTask, parseReportId } from "./report";

/** reports' environment: the base settings, the largest report, and the worker pool's size. */
export const reportsEnv = baseEnv.extend({
    /** Largest `size` accepted; default 1000000 samples (about 0.25 s of one core, 8 MB). */
    MAX_REPORT_SIZE: intVar(1, 5_000_000, 1_000_000),
    /**
     * Worker threads building reports; default 1: a pod (CPU request 250m) uses at most about
     * one core however busy, and more load means more pods (the HPA), not more threads per pod.
     */
    REPORT_WORKERS: intVar(1, 16, 1),
    /**
     * Work that may wait for a free worker, in reports of `MAX_REPORT_SIZE` (smaller reports count
     * by their size); default 3. The worst wait, (REPORT_QUEUE / REPORT_WORKERS + 1) times one
     * largest report, must stay under backend's `UPSTREAM_TIMEOUT_MS`.
     */
    REPORT_QUEUE: intVar(0, 10_000, 3),
});

export type ReportsEnv = z.output<typeof reportsEnv>;

/** The worker entry: report.js next to this file, or report.ts through tsx when run from source. */
function workerOptions(): { filename: string; execArgv?: string[] } {
    const filename = join(__dirname, `report${extname(__filename)}`);
    const fromSource = filename.endsWith(".ts") && !process.execArgv.includes("tsx");
    return fromSource ? { filename, execArgv: [...process.execArgv, "--import", "tsx"] } : { filename };
}

export const reports: ServiceDefinition<ReportsEnv> = {
    name: "reports",
    routes(app, env) {
        const pool = new Piscina<Parameters<typeof buildReportTask>[0], Report>({
            ...workerOptions(),
            name: buildReportTask.name,
            minThreads: env.REPORT_WORKERS,
            maxThreads: env.REPORT_WORKERS,
        });
        app.addHook("onClose", () => pool.destroy());

        // Work being built or waiting for a worker, in samples: at most REPORT_WORKERS largest
        // reports being built and REPORT_QUEUE more waiting. Past that, shed.
        const capacity = (env.REPORT_WORKERS + env.REPORT_QUEUE) * env.MAX_REPORT_SIZE;
        let accepted = 0;
        let acceptedSamples = 0;
        async function build(size: number, seed: number): Promise<Report> {
            if (acceptedSamples + size > capacity) {
                throw new HttpError(503, "overloaded", `${accepted} reports are being built or waiting; retry shortly`, { "retry-after": "1" });
            }
            accepted++;
            acceptedSamples += size;
            try {
                return await pool.run({ size, seed });
            } finally {
                accepted--;
                acceptedSamples -= size;
            }
        }

        const request = z.strictObject({
            size: z.int().min(1, "must be at least 1").max(env.MAX_REPORT_SIZE, `must be at most ${env.MAX_REPORT_SIZE}`),
            seed: z.int().min(0, "must be at least 0").max(0xffffffff, "must be at most 4294967295").default(1),
        });

        app.post("/reports", async (req, reply) => {
            const { size, seed } = parseInput(request, req.body, "body");
            return reply.code(201).send(await build(size, seed));
        });

        app.get<{ Params: { id: string } }>("/reports/:id", async (req) => {
            const params = parseReportId(req.params.id);
            if (!params || params.size > env.MAX_REPORT_SIZE) {
                throw new HttpError(404, "not_found", `no report ${JSON.stringify(req.params.id)}`);
            }
            return build(params.size, params.seed);
        });

        // Not ready until the workers have loaded the report code.
        return async () => {
            await Promise.all(Array.from({ length: env.REPORT_WORKERS }, () => pool.run({ size: 1, seed: 1 })));
        };
    },
};
