/**
 * A kubeforge service: fastify with JSON logs (pino), JSON errors, `/healthz` and `/readyz` on
 * `PORT`, `/metrics` on a listener of its own on `METRICS_PORT` (not exposed by the public load
 * balancer), and a graceful drain on SIGTERM.
 */
import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { pino } from "pino";
import type { z } from "zod";
import { type BaseEnv, EnvError, loadEnv } from "./config";
import { HttpError, codeForClientError } from "./errors";
import { ConnectionTracker } from "./drain";
import { registerMetrics, serveMetrics } from "./metrics";

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
    /** Base URL of the API and probes, e.g. `http://127.0.0.1:8080`. */
    readonly url: string;
    /** Base URL of `/metrics`, e.g. `http://127.0.0.1:9464`. */
    readonly metricsUrl: string;
    /** Current lifecycle phase. */
    phase(): Phase;
    /**
     * Drains (see drain.ts): `/readyz` turns 503, no new connections are accepted, every further
     * response carries `Connection: close`, in-flight requests finish; connections still open
     * after `SHUTDOWN_TIMEOUT_MS` are closed; then the metrics listener closes (it answers
     * scrapes during the drain). Resolves when both are closed; idempotent.
     */
    shutdown(): Promise<void>;
}

/** Routes that probes hit every few seconds: not logged per request (nor are scrapes). */
const QUIET_ROUTES = new Set(["/healthz", "/readyz"]);

/** The JSON 404 of both listeners. */
function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return reply.code(404).send({ error: "not_found", message: `no route for ${request.method} ${request.url.split("?")[0]}` });
}

/** The fastify apps of `definition` (routes registered, not listening yet) and its warm-up. */
interface Apps {
    /** The service's routes and probes, for `PORT`. */
    app: FastifyInstance;
    /** `/metrics` alone, for `METRICS_PORT`. */
    metrics: FastifyInstance;
    warmUp?: WarmUp;
}

/** Builds the {@link Apps} of `definition`. */
function buildApps<E extends BaseEnv>(definition: ServiceDefinition<E>, env: E, phase: () => Phase): Apps {
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
            return reply.code(error.statusCode).headers(error.headers).send(error.body());
        }
        const status = error.statusCode ?? 500;
        if (status >= 400 && status < 500) return reply.code(status).send({ error: codeForClientError(status), message: error.message });
        request.log.error({ err: error }, "request failed");
        return reply.code(500).send({ error: "internal", message: "internal server error" });
    });
    app.setNotFoundHandler(notFound);

    app.get("/healthz", async () => ({ status: "ok" }));
    app.get("/readyz", async (_request, reply) => {
        const current = phase();
        if (current === "ready") return { status: "ready" };
        return reply.code(503).send({ error: "not_ready", message: `service is ${current}` });
    });
    const registry = registerMetrics(app, definition.name);
    const metrics = Fastify({ loggerInstance: app.log.child({ listener: "metrics" }), logController: new LogController({ disableRequestLogging: true }) });
    serveMetrics(metrics, registry);
    metrics.setNotFoundHandler(notFound);
    const warmUp = definition.routes(app, env) ?? undefined;
    return { app, metrics, warmUp };
}

/** Listens on `HOST:port` and returns the base URL to reach it (127.0.0.1 for a wildcard host). */
async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
    await app.listen({ port, host });
    const address = app.server.address();
    const bound = typeof address === "object" && address ? address.port : port;
    const reachable = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
    return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${bound}`;
}

/**
 * Builds, listens on `HOST:PORT` and `HOST:METRICS_PORT`, warms up, and returns the running
 * service (ready). If a listener or the warm-up fails, whatever was opened is closed.
 */
export async function startService<E extends BaseEnv>(definition: ServiceDefinition<E>, env: E): Promise<RunningService> {
    let phase: Phase = "starting";
    const { app, metrics, warmUp } = buildApps(definition, env, () => phase);
    const connections = new ConnectionTracker(app);
    let url: string;
    let metricsUrl: string;
    try {
        url = await listen(app, env.HOST, env.PORT);
        metricsUrl = await listen(metrics, env.HOST, env.METRICS_PORT);
        app.log.info({ url, metricsUrl }, "listening");
        await warmUp?.();
    } catch (error) {
        await Promise.all([app.close(), metrics.close()]);
        throw error;
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
                await metrics.close();
                phase = "stopped";
            }
            app.log.info("stopped");
        })();
        return closing;
    };
    return { app, url, metricsUrl, phase: () => phase, shutdown };
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
