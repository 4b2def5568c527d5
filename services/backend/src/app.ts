/**
 * backend: the public REST API. It answers hello itself and forwards messages and reports to the
 * services of those names, found through `MESSAGES_URL` and `REPORTS_URL`.
 *
 * - `GET /api/hello` -> 200 `{ "message": "hello from kubeforge" }`
 * - `POST /api/messages` `{ "topic", "body" }` -> messages `POST /topics/:topic/messages`
 * - `GET /api/messages?topic=<t>&limit=<n>` -> messages `GET /topics/:topic/messages`
 * - `POST /api/reports` `{ "size", "seed"? }` -> reports `POST /reports`
 * - `GET /api/reports/:id` -> reports `GET /reports/:id`
 *
 * Field rules (topic format, size range, body size) are the upstream's; their 4xx answers pass
 * through unchanged, and so does a 503 (reports shedding load) with its `Retry-After`. Other
 * upstream failures are 502, upstream timeouts 504.
 */
import { baseEnv, intVar, parseInput, urlVar, type ServiceDefinition } from "@kubeforge/service-kit";
import type { FastifyReply } from "fastify";
import { z } from "zod";
import { Upstream, type UpstreamResponse } from "./upstream";

/** backend's environment: the base settings plus where its upstreams are and how long to wait. */
export const backendEnv = baseEnv.extend({
    /** messages' base URL (set by the Microservice component); required. */
    MESSAGES_URL: urlVar(),
    /** reports' base URL (set by the Microservice component); required. */
    REPORTS_URL: urlVar(),
    /**
     * Deadline of each upstream call; default 5000 ms. Keep it above reports' worst queue wait
     * (services/README.md, "Timeouts and queues"), or clients get 504 while reports still works.
     */
    UPSTREAM_TIMEOUT_MS: intVar(1, 60_000, 5000),
});

export type BackendEnv = z.output<typeof backendEnv>;

const publish = z.strictObject({ topic: z.string(), body: z.string() });
const readMessages = z.strictObject({ topic: z.string(), limit: z.string().optional() });
const createReport = z.strictObject({ size: z.number(), seed: z.number().optional() });

function relay(reply: FastifyReply, upstream: UpstreamResponse) {
    return reply.code(upstream.status).send(upstream.body);
}

export const backend: ServiceDefinition<BackendEnv> = {
    name: "backend",
    routes(app, env) {
        const messages = new Upstream("messages", env.MESSAGES_URL, env.UPSTREAM_TIMEOUT_MS);
        const reports = new Upstream("reports", env.REPORTS_URL, env.UPSTREAM_TIMEOUT_MS);

        app.get("/api/hello", async () => ({ message: "hello from kubeforge" }));

        app.post("/api/messages", async (req, reply) => {
            const { topic, body } = parseInput(publish, req.body, "body");
            const path = `/topics/${encodeURIComponent(topic)}/messages`;
            return relay(reply, await messages.call("POST", path, { body: { body }, requestId: req.id }));
        });

        app.get("/api/messages", async (req, reply) => {
            const { topic, limit } = parseInput(readMessages, req.query, "query");
            const search = limit === undefined ? "" : `?limit=${encodeURIComponent(limit)}`;
            return relay(reply, await messages.call("GET", `/topics/${encodeURIComponent(topic)}/messages${search}`, { requestId: req.id }));
        });

        app.post("/api/reports", async (req, reply) => {
            const body = parseInput(createReport, req.body, "body");
            return relay(reply, await reports.call("POST", "/reports", { body, requestId: req.id }));
        });

        app.get<{ Params: { id: string } }>("/api/reports/:id", async (req, reply) => {
            return relay(reply, await reports.call("GET", `/reports/${encodeURIComponent(req.params.id)}`, { requestId: req.id }));
        });
    },
};
