/**
 * The kit's service behaviour, on a small test service over real HTTP: probes, error shape,
 * body checks, metrics, and readiness and connection handling during a drain.
 */
import { Agent, request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { HttpError, UNMATCHED_ROUTE, baseEnv, parseInput, type BaseEnv, type RunningService, type ServiceDefinition } from "../src";
import { sampleValue } from "./prometheus-text";
import { freePort, request, requestCount, scrape, startInProcess } from "./support";

/** Releases the requests parked on GET /slow. */
const parked: Array<() => void> = [];

const probe: ServiceDefinition<BaseEnv> = {
    name: "probe",
    routes(app) {
        const echo = z.strictObject({ n: z.int(), tags: z.array(z.string()).optional() });
        app.post("/echo", async (req) => parseInput(echo, req.body, "body"));
        app.get("/teapot", async () => {
            throw new HttpError(418, "teapot", "short and stout");
        });
        app.get("/boom", async () => {
            throw new Error("database password is hunter2");
        });
        app.get("/slow", () => new Promise((resolve) => parked.push(() => resolve({ done: true }))));
    },
};

let service: RunningService | undefined;
afterEach(async () => {
    parked.splice(0).forEach((release) => release());
    await service?.shutdown();
    service = undefined;
});

async function start(env: Record<string, string> = {}): Promise<RunningService> {
    service = await startInProcess(probe, baseEnv, env);
    return service;
}

/** GET over a given agent (to control connection reuse); resolves with status, headers, body. */
function get(url: string, agent: Agent): Promise<{ status: number; connection: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
        httpRequest(url, { agent }, (res) => {
            let body = "";
            res.on("data", (chunk: Buffer) => (body += chunk.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
        })
            .on("error", reject)
            .end();
    });
}

describe("probes", () => {
    it("is live but not ready while it warms up", async () => {
        let release = () => {};
        const warmedUp = new Promise<void>((resolve) => (release = resolve));
        const slowStart: ServiceDefinition<BaseEnv> = { name: "slow-start", routes: () => () => warmedUp };
        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        const starting = startInProcess(slowStart, baseEnv, { PORT: String(port) });

        await expect.poll(() => request("GET", `${url}/healthz`).then((r) => r.status, () => 0)).toBe(200);
        expect(await request("GET", `${url}/readyz`)).toMatchObject({ status: 503, body: { error: "not_ready", message: "service is starting" } });
        release();
        service = await starting;
        expect(service.phase()).toBe("ready");
        expect((await request("GET", `${url}/readyz`)).status).toBe(200);
    });

    it("answers liveness and readiness once listening", async () => {
        const { url, phase } = await start();
        expect(phase()).toBe("ready");
        expect(await request("GET", `${url}/healthz`)).toMatchObject({ status: 200, body: { status: "ok" } });
        expect(await request("GET", `${url}/readyz`)).toMatchObject({ status: 200, body: { status: "ready" } });
    });
});

describe("errors", () => {
    it("answers unknown routes with a JSON 404", async () => {
        const { url } = await start();
        expect(await request("GET", `${url}/nope?x=1`)).toMatchObject({ status: 404, body: { error: "not_found", message: "no route for GET /nope" } });
    });

    it("answers an HttpError with its status and code", async () => {
        const { url } = await start();
        expect(await request("GET", `${url}/teapot`)).toMatchObject({ status: 418, body: { error: "teapot", message: "short and stout" } });
    });

    it("answers an unexpected error with a 500 that leaks nothing", async () => {
        const { url } = await start();
        const response = await request("GET", `${url}/boom`);
        expect(response).toMatchObject({ status: 500, body: { error: "internal", message: "internal server error" } });
        expect(JSON.stringify(response.body)).not.toContain("hunter2");
    });

    it("accepts a valid body", async () => {
        const { url } = await start();
        expect(await request("POST", `${url}/echo`, { n: 3, tags: ["a"] })).toMatchObject({ status: 200, body: { n: 3, tags: ["a"] } });
    });

    it.each([
        ["malformed JSON", '{"n": 1', /not valid JSON/],
        ["a wrong type", { n: "3" }, /^body\.n: /],
        ["a fraction for an integer", { n: 1.5 }, /^body\.n: /],
        ["a nested wrong type", { n: 1, tags: [1] }, /^body\.tags\.0: /],
        ["an unknown field", { n: 1, admin: true }, /^body: .*admin/],
        ["a JSON array", [1], /^body: /],
        ["an empty body", "", /empty/i],
    ])("rejects %s with a JSON 400", async (_what, body, message) => {
        const { url } = await start();
        const response = await request("POST", `${url}/echo`, body);
        expect(response.status).toBe(400);
        expect(response.body).toMatchObject({ error: "bad_request", message: expect.stringMatching(message) });
    });

    it("rejects a body over BODY_LIMIT_BYTES with a JSON 413", async () => {
        const { url } = await start({ BODY_LIMIT_BYTES: "64" });
        const response = await request("POST", `${url}/echo`, { n: 1, tags: ["x".repeat(100)] });
        expect(response).toMatchObject({ status: 413, body: { error: "payload_too_large" } });
    });

    it("rejects a body that is not JSON with a JSON 415", async () => {
        const { url } = await start();
        const response = await request("POST", `${url}/echo`, "n=1", { "content-type": "application/x-www-form-urlencoded" });
        expect(response).toMatchObject({ status: 415, body: { error: "unsupported_media_type" } });
    });
});

describe("/metrics", () => {
    it("is served on METRICS_PORT only: the main port (behind the public load balancer) answers 404", async () => {
        const [port, metricsPort] = [await freePort(), await freePort()];
        const { url, metricsUrl } = await start({ PORT: String(port), METRICS_PORT: String(metricsPort) });
        expect(metricsUrl).toBe(`http://127.0.0.1:${metricsPort}`);
        expect(await request("GET", `${url}/metrics`)).toMatchObject({ status: 404, body: { error: "not_found", message: "no route for GET /metrics" } });
        const scraped = await fetch(`${metricsUrl}/metrics`);
        expect(scraped.status).toBe(200);
        expect(await scraped.text()).toContain('http_requests_total{method="GET",route="unmatched",status_code="404",service="probe"} 1');
        // The metrics listener serves nothing else: no API routes, no probes.
        for (const path of ["/healthz", "/readyz", "/teapot"]) {
            expect(await request("GET", `${metricsUrl}${path}`)).toMatchObject({ status: 404, body: { error: "not_found" } });
        }
    });

    it("is Prometheus text that counts requests by route template and status", async () => {
        const { url, metricsUrl } = await start();
        for (let i = 0; i < 3; i++) await request("GET", `${url}/healthz`);
        await request("GET", `${url}/teapot`);
        await request("GET", `${url}/no/such/${Math.random()}`);
        await request("POST", `${url}/echo`, "{");

        const families = await scrape(metricsUrl);
        expect(requestCount(families, "/healthz", 200)).toBe(3);
        expect(requestCount(families, "/teapot", 418)).toBe(1);
        expect(requestCount(families, UNMATCHED_ROUTE, 404)).toBe(1);
        expect(requestCount(families, "/echo", 400, "POST")).toBe(1);

        expect(families.types.get("http_request_duration_seconds")).toBe("histogram");
        const healthz = { route: "/healthz", method: "GET", status_code: "200", service: "probe" };
        expect(sampleValue(families, "http_request_duration_seconds_count", healthz)).toBe(3);
        expect(sampleValue(families, "http_request_duration_seconds_bucket", { ...healthz, le: "+Inf" })).toBe(3);
        expect(sampleValue(families, "http_request_duration_seconds_sum", healthz)).toBeGreaterThan(0);

        const names = [...families.types.keys()];
        expect(names).toEqual(expect.arrayContaining(["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds"]));
    });
});

describe("starting", () => {
    it("fails, and leaves no port open, when METRICS_PORT is taken", async () => {
        const taken = await startInProcess(probe, baseEnv);
        const port = await freePort();
        const metricsPort = Number(new URL(taken.metricsUrl).port);
        try {
            await expect(start({ PORT: String(port), METRICS_PORT: String(metricsPort) })).rejects.toMatchObject({ code: "EADDRINUSE" });
            await expect(get(`http://127.0.0.1:${port}/healthz`, new Agent())).rejects.toMatchObject({ code: "ECONNREFUSED" });
        } finally {
            await taken.shutdown();
        }
    });
});

describe("drain", () => {
    it("turns readiness off, serves requests on open connections with Connection: close, refuses new ones, and finishes in-flight requests", async () => {
        const { url, metricsUrl, phase, shutdown } = await start();
        const keptAlive = new Agent({ keepAlive: true, maxSockets: 1 });
        expect((await get(`${url}/readyz`, keptAlive)).status).toBe(200);

        const inFlight = get(`${url}/slow`, new Agent());
        await expect.poll(() => parked.length).toBe(1);
        const stopped = shutdown();
        expect(phase()).toBe("draining");

        // The kept-alive connection is still served, is told to close, and sees not-ready.
        const readiness = await get(`${url}/readyz`, keptAlive);
        expect(readiness).toMatchObject({ status: 503, connection: "close" });
        expect(JSON.parse(readiness.body)).toEqual({ error: "not_ready", message: "service is draining" });
        // New connections are refused.
        await expect(get(`${url}/healthz`, new Agent())).rejects.toMatchObject({ code: "ECONNREFUSED" });
        // Metrics can still be scraped while draining.
        expect((await get(`${metricsUrl}/metrics`, new Agent())).status).toBe(200);

        // The in-flight request completes, then the server stops, and so does the metrics listener.
        parked.splice(0).forEach((release) => release());
        expect(await inFlight).toMatchObject({ status: 200, body: '{"done":true}' });
        await stopped;
        expect(phase()).toBe("stopped");
        await expect(get(`${metricsUrl}/metrics`, new Agent())).rejects.toMatchObject({ code: "ECONNREFUSED" });
        keptAlive.destroy();
    });

    it("cuts requests still running at SHUTDOWN_TIMEOUT_MS and stops on time", async () => {
        const { url, shutdown } = await start({ SHUTDOWN_TIMEOUT_MS: "300" });
        const stuck = get(`${url}/slow`, new Agent());
        await expect.poll(() => parked.length).toBe(1);
        const startedAt = Date.now();
        await shutdown();
        const tookMs = Date.now() - startedAt;
        expect(tookMs).toBeGreaterThanOrEqual(290);
        expect(tookMs).toBeLessThan(1500);
        await expect(stuck).rejects.toMatchObject({ code: "ECONNRESET" });
    });
});
