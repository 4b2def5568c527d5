/**
 * backend over real HTTP against real messages and reports services (in-process, real ports;
 * messages on a real redis-server), and against upstreams that are stopped, hang, fail or answer
 * garbage.
 */
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningService, loadEnv } from "@kubeforge/service-kit";
import { messages, messagesEnv } from "../../messages/src/app";
import { RedisServer } from "../../messages/test/redis-server";
import { reports, reportsEnv } from "../../reports/src/app";
import { request, requestCount, runToExit, scrape, startInProcess } from "../../kit/test/support";
import { backend, backendEnv } from "../src/app";

const TIMEOUT_MS = 300;

/** A plain node:http server standing in for a misbehaving upstream. */
async function fakeUpstream(listener: RequestListener): Promise<{ url: string; server: Server }> {
    const server = createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function startBackend(messagesUrl: string, reportsUrl: string): Promise<RunningService> {
    return startInProcess(backend, backendEnv, { MESSAGES_URL: messagesUrl, REPORTS_URL: reportsUrl, UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) });
}

describe("against real messages and reports", () => {
    const running: RunningService[] = [];
    let url: string;
    let metricsUrl: string;
    let redis: RedisServer;
    beforeAll(async () => {
        redis = await RedisServer.start();
        const m = await startInProcess(messages, messagesEnv, { STORE_URL: redis.url, STORE_TIMEOUT_MS: String(TIMEOUT_MS / 3), MAX_MESSAGE_BYTES: "16" });
        const r = await startInProcess(reports, reportsEnv, { MAX_REPORT_SIZE: "100000" });
        const b = await startBackend(m.url, r.url);
        running.push(b, m, r);
        url = b.url;
        metricsUrl = b.metricsUrl;
    });
    afterAll(async () => {
        await Promise.all(running.map((s) => s.shutdown()));
        await redis.stop();
    });

    it("says hello", async () => {
        expect(await request("GET", `${url}/api/hello`)).toMatchObject({ status: 200, body: { message: "hello from kubeforge" } });
    });

    it("publishes and reads messages through messages", async () => {
        const published = await request("POST", `${url}/api/messages`, { topic: "orders", body: "order 1" });
        expect(published).toMatchObject({ status: 201, body: { seq: 1, topic: "orders", body: "order 1" } });
        await request("POST", `${url}/api/messages`, { topic: "orders", body: "order 2" });
        const read = await request("GET", `${url}/api/messages?topic=orders&limit=1`);
        expect(read).toMatchObject({ status: 200, body: { topic: "orders", messages: [{ seq: 2, body: "order 2" }] } });
    });

    it("builds a report through reports and fetches it by id", async () => {
        const created = await request("POST", `${url}/api/reports`, { size: 20_000, seed: 3 });
        expect(created).toMatchObject({ status: 201, body: { id: "20000-3", size: 20_000 } });
        expect(await request("GET", `${url}/api/reports/20000-3`)).toEqual({ ...created, status: 200, headers: expect.anything() });
    });

    it("passes the upstream's own 4xx answers through", async () => {
        expect(await request("POST", `${url}/api/messages`, { topic: "Not A Topic", body: "x" })).toMatchObject({
            status: 400,
            body: { error: "bad_request", message: expect.stringContaining("params.topic") },
        });
        expect(await request("POST", `${url}/api/messages`, { topic: "t", body: "x".repeat(17) })).toMatchObject({
            status: 413,
            body: { error: "message_too_large" },
        });
        expect(await request("POST", `${url}/api/reports`, { size: 100_001 })).toMatchObject({
            status: 400,
            body: { message: "body.size: must be at most 100000" },
        });
        expect(await request("GET", `${url}/api/reports/none`)).toMatchObject({ status: 404, body: { error: "not_found" } });
        expect(await request("GET", `${url}/api/messages?topic=t&limit=0`)).toMatchObject({ status: 400, body: { message: expect.stringContaining("query.limit") } });
    });

    it.each([
        ["POST", "/api/messages", { topic: "t" }, "body.body: "],
        ["POST", "/api/messages", { topic: 1, body: "x" }, "body.topic: "],
        ["POST", "/api/messages", '{"topic":', "not valid JSON"],
        ["POST", "/api/reports", { size: "big" }, "body.size: "],
        ["POST", "/api/reports", { size: 1, extra: true }, "extra"],
        ["GET", "/api/messages", undefined, "query.topic: "],
    ])("rejects %s %s %j itself with a 400", async (method, path, body, message) => {
        const response = await request(method, `${url}${path}`, body);
        expect(response).toMatchObject({ status: 400, body: { error: "bad_request", message: expect.stringContaining(message) } });
    });

    it("counts its routes in /metrics, on the metrics port", async () => {
        const before = requestCount(await scrape(metricsUrl), "/api/hello", 200);
        await request("GET", `${url}/api/hello`);
        await request("GET", `${url}/api/hello`);
        expect(requestCount(await scrape(metricsUrl), "/api/hello", 200)).toBe(before + 2);
    });

    // Last in this block: it stops the store.
    it("passes messages' 503 store_unavailable and its Retry-After on when the store is down", async () => {
        await redis.kill();
        const response = await request("POST", `${url}/api/messages`, { topic: "orders", body: "lost" });
        expect(response).toMatchObject({ status: 503, body: { error: "store_unavailable" } });
        expect(response.headers.get("retry-after")).toBe("1");
        await redis.restart();
    });
});

describe("against failing upstreams", () => {
    const servers: Server[] = [];
    const services: RunningService[] = [];
    afterAll(async () => {
        await Promise.all(services.map((s) => s.shutdown()));
        for (const s of servers) s.closeAllConnections();
        await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    });

    async function backendWith(upstream: RequestListener): Promise<string> {
        const fake = await fakeUpstream(upstream);
        servers.push(fake.server);
        const b = await startBackend(fake.url, fake.url);
        services.push(b);
        return b.url;
    }

    it("answers 502 at once when the upstream is stopped", async () => {
        const stopped = await startInProcess(reports, reportsEnv);
        await stopped.shutdown();
        const b = await startBackend(stopped.url, stopped.url);
        services.push(b);
        const startedAt = Date.now();
        const response = await request("POST", `${b.url}/api/reports`, { size: 10 });
        expect(Date.now() - startedAt).toBeLessThan(TIMEOUT_MS);
        expect(response).toMatchObject({ status: 502, body: { error: "upstream_unreachable", message: expect.stringContaining("ECONNREFUSED") } });
        expect(requestCount(await scrape(b.metricsUrl), "/api/reports", 502, "POST")).toBe(1);
    });

    it("answers 504 within the timeout when the upstream never answers", async () => {
        const url = await backendWith(() => undefined); // accepts, never responds
        for (const [method, path, body] of [["GET", "/api/messages?topic=t"], ["POST", "/api/reports", { size: 1 }]] as const) {
            const startedAt = Date.now();
            const response = await request(method, `${url}${path}`, body);
            const tookMs = Date.now() - startedAt;
            expect(response).toMatchObject({ status: 504, body: { error: "upstream_timeout", message: `${path.includes("messages") ? "messages" : "reports"} did not answer within ${TIMEOUT_MS} ms` } });
            expect(tookMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
            expect(tookMs).toBeLessThan(TIMEOUT_MS + 1000);
        }
    });

    it("answers 504 when the upstream stalls halfway through its body", async () => {
        const url = await backendWith((_req, res) => {
            res.writeHead(200, { "content-type": "application/json" });
            res.write('{"partial":');
        });
        expect(await request("GET", `${url}/api/reports/1-1`)).toMatchObject({ status: 504, body: { error: "upstream_timeout" } });
    });

    it("answers 502 when the upstream fails with a 5xx other than 503", async () => {
        for (const status of [500, 502, 504]) {
            const url = await backendWith((_req, res) => res.writeHead(status, { "retry-after": "1" }).end('{"error":"internal","message":"x"}'));
            const response = await request("GET", `${url}/api/reports/1-1`);
            expect(response).toMatchObject({ status: 502, body: { error: "upstream_error", message: `reports answered ${status}` } });
            expect(response.headers.get("retry-after")).toBeNull();
        }
    });

    it("passes an upstream 503 through with its Retry-After and error body", async () => {
        const url = await backendWith((_req, res) =>
            res.writeHead(503, { "content-type": "application/json", "retry-after": "7" }).end('{"error":"overloaded","message":"busy; retry shortly"}'),
        );
        const response = await request("POST", `${url}/api/reports`, { size: 1 });
        expect(response).toMatchObject({ status: 503, body: { error: "overloaded", message: "busy; retry shortly" } });
        expect(response.headers.get("retry-after")).toBe("7");
    });

    it("answers an upstream 503 that is not the error shape with its own 503 body, keeping Retry-After", async () => {
        const url = await backendWith((_req, res) => res.writeHead(503, { "content-type": "text/html", "retry-after": "3" }).end("<html>no healthy upstream</html>"));
        const response = await request("GET", `${url}/api/messages?topic=t`);
        expect(response).toMatchObject({ status: 503, body: { error: "upstream_unavailable", message: "messages answered 503" } });
        expect(response.headers.get("retry-after")).toBe("3");
        const without = await backendWith((_req, res) => res.writeHead(503).end());
        const bare = await request("GET", `${without}/api/reports/1-1`);
        expect(bare).toMatchObject({ status: 503, body: { error: "upstream_unavailable", message: "reports answered 503" } });
        expect(bare.headers.get("retry-after")).toBeNull();
    });

    it("passes reports' own overload 503 through to the client", async () => {
        const r = await startInProcess(reports, reportsEnv, { REPORT_WORKERS: "1", REPORT_QUEUE: "0", MAX_REPORT_SIZE: "200000" });
        const b = await startBackend(r.url, r.url);
        services.push(b, r);
        const responses = await Promise.all(Array.from({ length: 4 }, () => request("POST", `${b.url}/api/reports`, { size: 200_000 })));
        const shed = responses.filter((response) => response.status === 503);
        expect(responses.map((response) => response.status)).toContain(201);
        expect(shed.length).toBeGreaterThan(0);
        for (const response of shed) {
            expect(response.body).toMatchObject({ error: "overloaded" });
            expect(response.headers.get("retry-after")).toBe("1");
        }
    });

    it("answers 502 when the upstream answers something that is not JSON", async () => {
        const url = await backendWith((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>proxy</html>"));
        expect(await request("GET", `${url}/api/reports/1-1`)).toMatchObject({ status: 502, body: { error: "upstream_bad_response" } });
    });

    it("forwards the request id and the JSON body it was given", async () => {
        let seen: { headers: IncomingHttpHeaders; body: string; url?: string } | undefined;
        const url = await backendWith((req, res) => {
            let body = "";
            req.on("data", (chunk: Buffer) => (body += chunk.toString()));
            req.on("end", () => {
                seen = { headers: req.headers, body, url: req.url };
                res.writeHead(201, { "content-type": "application/json" }).end('{"ok":true}');
            });
        });
        const response = await request("POST", `${url}/api/messages`, { topic: "a/b", body: "hi" }, { "x-request-id": "trace-123" });
        expect(response).toMatchObject({ status: 201, body: { ok: true } });
        expect(seen?.url).toBe("/topics/a%2Fb/messages");
        expect(seen?.headers["x-request-id"]).toBe("trace-123");
        expect(JSON.parse(seen?.body ?? "")).toEqual({ body: "hi" });

        // Without one, the upstream gets a fresh UUID (not a per-process counter like req-1).
        await request("GET", `${url}/api/reports/1-1`);
        expect(seen?.headers["x-request-id"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });
});

describe("defaults", () => {
    it("wait for reports longer than a report may wait in reports' queue, even with reports at its 250m CPU request", () => {
        const b = loadEnv(backendEnv, { MESSAGES_URL: "http://messages", REPORTS_URL: "http://reports" });
        const r = loadEnv(reportsEnv, {});
        // A report of 1000000 samples takes about 0.25 s of one core (MAX_REPORT_SIZE's comment;
        // the largest-report row of `npm run bench:services`), so about 1 s on a quarter core.
        const largestReportMs = (r.MAX_REPORT_SIZE / 1_000_000) * 250 * 4;
        const worstWaitMs = (r.REPORT_QUEUE / r.REPORT_WORKERS + 1) * largestReportMs;
        expect(worstWaitMs).toBeLessThan(b.UPSTREAM_TIMEOUT_MS);
    });
});

describe("environment", () => {
    it("exits 1 with one line naming every bad variable", async () => {
        const { code, stderr } = await runToExit("backend", { PORT: "eighty", MESSAGES_URL: "messages:80" });
        expect(code).toBe(1);
        expect(stderr.split("\n")).toEqual([
            'backend: invalid environment: PORT="eighty" is not a whole number; MESSAGES_URL="messages:80" is not an http(s) URL (e.g. http://messages.kubeforge.svc.cluster.local:8080); REPORTS_URL is required',
            "",
        ]);
    });
});
