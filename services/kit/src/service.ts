/**
 * A kubeforge service: fastify with JSON logs (pino), JSON errors, `/healthz`, `/readyz`,
 * `/metrics`, and a graceful drain on SIGTERM.
 */
import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyError, type FastifyInstance } from "fastify";
import { pino } from "pino";
import type { z } from "zod";
import { type BaseEnv, EnvError, loadEnv } from "./config";
import { HttpError, codeForClientError } from "./errors";
import { ConnectionTracker } from "./drain";
import { registerMetrics } from "./metrics";

/** What makes one service different from the others. */
export interface ServiceDefinition<E extends BaseEnv> {
    /** Service name, as it appears in logs (`service`) and metric labels. */
    name: string;
    /**
     * Registers the service's own routes on `app`, given its validated environment. It may return
     * a warm-up (e.g. starting worker threads) that runs once the server listens: meanwhile
     * `/healthz` is 200 and `/readyz` 503, so a slow start fails neither probe wrongly.
     */
    routes: (app: FastifyInstance, env: E) => void | WarmUp;
}

/** Work a service finishes after it listens and before it turns ready. */
export type WarmUp = () => Promise<void>;

/** Lifecycle of a service, as `/readyz` reports it. */
export type Phase = "starting" | "ready" | "draining" | "stopped";

/** A started service. */
export interface RunningService {
    /** The fastify instance (for tests and inspection). */
    readonly app: FastifyInstance;
    /** Base URL it listens on, e.g. `http://127.0.0.1:8080`. */
    readonly url: string;
    /** Current lifecycle phase. */
    phase(): Phase;
    /**
     * Drains (see drain.ts): `/readyz` turns 503, no new connections are accepted, every further
     * response carries `Connection: close`, in-flight requests finish; connections still open
     * after `SHUTDOWN_TIMEOUT_MS` are closed. Resolves when the server is closed; idempotent.
     */
    shutdown(): Promise<void>;
}

/** Routes that probes and scrapers hit every few seconds: not logged per request. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

/** Builds the fastify app of `definition` (routes registered, not listening yet) and its warm-up. */
function buildApp<E extends BaseEnv>(definition: ServiceDefinition<E>, env: E, phase: () => Phase): { app: FastifyInstance; warmUp?: WarmUp } {
    const app = Fastify({
        logger: {
            level: env.LOG_LEVEL,
            base: { service: definition.name },
            timestamp: pino.stdTimeFunctions.isoTime,
            formatters: { level: (label: string) => ({ level: label }) },
        },
        // One line per request, written by the onResponse hook below (fastify's own are two).
        logController: new LogController({ disableRequestLogging: true }),
        // Honour the caller's x-request-id; otherwise a UUID, unique across replicas (fastify's
        // default counter restarts at req-1 in every process).
        requestIdHeader: "x-request-id",
        genReqId: () => randomUUID(),
        bodyLimit: env.BODY_LIMIT_BYTES,
        // While draining, requests that arrive on open keep-alive connections are still served
        // (with Connection: close) rather than refused: the client already sent them to us.
        return503OnClosing: false,
    });

    app.addHook("onRequest", async (_request, reply) => {
        if (phase() === "draining") reply.header("connection", "close");
    });
    app.addHook("onResponse", async (request, reply) => {
        const route = request.routeOptions.url;
        if (route !== undefined && QUIET_ROUTES.has(route)) return;
        request.log.info(
            { method: request.method, url: request.url, route, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 },
            "request completed",
        );
    });

    app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
        if (error instanceof HttpError) {
            if (error.statusCode >= 500) request.log.warn({ error: error.code }, error.message);
            return reply.code(error.statusCode).send(error.body());
        }
        const status = error.statusCode ?? 500;
        if (status >= 400 && status < 500) return reply.code(status).send({ error: codeForClientError(status), message: error.message });
        request.log.error({ err: error }, "request failed");
        return reply.code(500).send({ error: "internal", message: "internal server error" });
    });
    app.setNotFoundHandler((request, reply) =>
        reply.code(404).send({ error: "not_found", message: `no route for ${request.method} ${request.url.split("?")[0]}` }),
    );

    app.get("/healthz", async () => ({ status: "ok" }));
    app.get("/readyz", async (_request, reply) => {
        const current = phase();
        if (current === "ready") return { status: "ready" };
        return reply.code(503).send({ error: "not_ready", message: `service is ${current}` });
    });
    registerMetrics(app, definition.name);
    const warmUp = definition.routes(app, env) ?? undefined;
    return { app, warmUp };
}

/** Builds, listens on `HOST:PORT`, warms up, and returns the running service (ready). */
export async function startService<E extends BaseEnv>(definition: ServiceDefinition<E>, env: E): Promise<RunningService> {
    let phase: Phase = "starting";
    const { app, warmUp } = buildApp(definition, env, () => phase);
    const connections = new ConnectionTracker(app);
    await app.listen({ port: env.PORT, host: env.HOST });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : env.PORT;
    const host = env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    app.log.info({ url }, "listening");
    if (warmUp) {
        try {
            await warmUp();
        } catch (error) {
            await app.close();
            throw error;
        }
    }
    phase = "ready";
    app.log.info("ready");

    let closing: Promise<void> | undefined;
    const shutdown = (): Promise<void> => {
        closing ??= (async () => {
            phase = "draining";
            app.log.info({ connections: connections.size, timeoutMs: env.SHUTDOWN_TIMEOUT_MS }, "draining");
            try {
                await connections.drain(env.SHUTDOWN_TIMEOUT_MS);
                await app.close();
            } finally {
                phase = "stopped";
            }
            app.log.info("stopped");
        })();
        return closing;
    };
    return { app, url, phase: () => phase, shutdown };
}

/**
 * Entry point of a service process: validates the environment (one line and exit 1 when it is
 * bad), starts the service, and drains it on SIGTERM or SIGINT, then exits 0.
 */
export function runService<E extends BaseEnv>(definition: ServiceDefinition<E>, schema: z.ZodType<E, Record<string, string | undefined>>): void {
    let env: E;
    try {
        env = loadEnv(schema, process.env);
    } catch (error) {
        if (!(error instanceof EnvError)) throw error;
        process.stderr.write(`${definition.name}: ${error.message}\n`);
        process.exit(1);
    }
    startService(definition, env).then(
        (service) => {
            const stop = (signal: NodeJS.Signals) => {
                service.app.log.info({ signal }, "shutdown requested");
                service.shutdown().then(
                    () => process.exit(0),
                    (error: unknown) => {
                        service.app.log.error({ err: error }, "shutdown failed");
                        process.exit(1);
                    },
                );
            };
            process.once("SIGTERM", stop);
            process.once("SIGINT", stop);
        },
        (error: unknown) => {
            process.stderr.write(`${definition.name}: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
            process.exit(1);
        },
    );
}
