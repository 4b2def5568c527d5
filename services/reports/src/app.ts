/**
 * reports: builds a report on request (CPU-heavy, sized by the caller) and returns it.
 *
 * - `POST /reports` `{ "size": <samples>, "seed"?: <uint32> }` -> 201 with the {@link Report}
 * - `GET /reports/:id` -> 200 with the report of that id (rebuilt: reports are deterministic)
 */
import { HttpError, baseEnv, intVar, parseInput, type ServiceDefinition } from "@kubeforge/service-kit";
import { z } from "zod";
import { buildReport, parseReportId } from "./report";

/** reports' environment: the base settings plus the largest report it will build. */
export const reportsEnv = baseEnv.extend({
    /** Largest `size` accepted; default 1000000 samples (about 0.25 s of one core, 8 MB). */
    MAX_REPORT_SIZE: intVar(1, 5_000_000, 1_000_000),
});

export type ReportsEnv = z.output<typeof reportsEnv>;

export const reports: ServiceDefinition<ReportsEnv> = {
    name: "reports",
    routes(app, env) {
        const request = z.strictObject({
            size: z.int().min(1, "must be at least 1").max(env.MAX_REPORT_SIZE, `must be at most ${env.MAX_REPORT_SIZE}`),
            seed: z.int().min(0, "must be at least 0").max(0xffffffff, "must be at most 4294967295").default(1),
        });

        app.post("/reports", async (req, reply) => {
            const { size, seed } = parseInput(request, req.body, "body");
            return reply.code(201).send(buildReport(size, seed));
        });

        app.get<{ Params: { id: string } }>("/reports/:id", async (req) => {
            const params = parseReportId(req.params.id);
            if (!params || params.size > env.MAX_REPORT_SIZE) {
                throw new HttpError(404, "not_found", `no report ${JSON.stringify(req.params.id)}`);
            }
            return buildReport(params.size, params.seed);
        });
    },
};
