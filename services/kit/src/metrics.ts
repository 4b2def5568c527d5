/**
 * Prometheus metrics for one service: process/runtime metrics from prom-client plus a request
 * counter and a latency histogram labelled by method, route template and status code.
 */
import type { FastifyInstance } from "fastify";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Label given to requests that matched no route, so unknown paths cannot explode cardinality. */
export const UNMATCHED_ROUTE = "unmatched";

/** Latency buckets (seconds): from a cached hello to the largest report. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Adds an onResponse hook to `app` that counts and times every request, and returns the registry
 * to serve with {@link serveMetrics}. Each call uses its own registry, so several services can
 * live in one process (tests).
 */
export function registerMetrics(app: FastifyInstance, service: string): Registry {
    const registry = new Registry();
    registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: registry });

    const labelNames = ["method", "route", "status_code"] as const;
    const requests = new Counter({
        name: "http_requests_total",
        help: "HTTP requests answered, by method, route template and status code.",
        labelNames,
        registers: [registry],
    });
    const duration = new Histogram({
        name: "http_request_duration_seconds",
        help: "Time from receiving a request to finishing its response, by method, route template and status code.",
        labelNames,
        buckets: LATENCY_BUCKETS,
        registers: [registry],
    });

    app.addHook("onResponse", async (request, reply) => {
        const labels = {
            method: request.method,
            route: request.routeOptions.url ?? UNMATCHED_ROUTE,
            status_code: String(reply.statusCode),
        };
        requests.inc(labels);
        duration.observe(labels, reply.elapsedTime / 1000);
    });

    return registry;
}

/** Registers `GET /metrics` on `app` (the metrics listener, not the service's own). */
export function serveMetrics(app: FastifyInstance, registry: Registry): void {
    app.get("/metrics", async (_request, reply) => {
        reply.type(registry.contentType);
        return registry.metrics();
    });
}
