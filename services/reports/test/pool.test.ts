/** reports builds on worker threads: probes stay fast while it is busy, and overload is shed. */
import { afterEach, describe, expect, it } from "vitest";
import { type RunningService, loadEnv } from "@kubeforge/service-kit";
import { request, startInProcess } from "../../kit/test/support";
import { reports, reportsEnv } from "../src/app";

let service: RunningService | undefined;
afterEach(async () => {
    await service?.shutdown();
    service = undefined;
});

const BIG = 2_000_000; // about 0.5 s of one core

describe("worker pool", () => {
    it("answers liveness and readiness at once while a big report is being built", async () => {
        service = await startInProcess(reports, reportsEnv, { REPORT_WORKERS: "1", MAX_REPORT_SIZE: String(BIG) });
        const { url } = service;
        let done = false;
        const report = request("POST", `${url}/reports`, { size: BIG }).finally(() => (done = true));
        await new Promise((resolve) => setTimeout(resolve, 50));
        const startedAt = performance.now();
        expect((await request("GET", `${url}/healthz`)).status).toBe(200);
        expect((await request("GET", `${url}/readyz`)).status).toBe(200);
        const probeMs = performance.now() - startedAt;
        expect(done).toBe(false);
        expect(probeMs).toBeLessThan(200);
        expect((await report).status).toBe(201);
    });

    it("runs one worker thread by default, with three largest reports' worth of queue", () => {
        expect(loadEnv(reportsEnv, {})).toMatchObject({ REPORT_WORKERS: 1, REPORT_QUEUE: 3, MAX_REPORT_SIZE: 1_000_000 });
    });

    it("sheds load past REPORT_WORKERS + REPORT_QUEUE largest reports with a 503 and Retry-After", async () => {
        service = await startInProcess(reports, reportsEnv, { REPORT_WORKERS: "1", REPORT_QUEUE: "1", MAX_REPORT_SIZE: String(BIG) });
        const { url } = service;
        const responses = await Promise.all(Array.from({ length: 4 }, () => request("POST", `${url}/reports`, { size: BIG })));
        const statuses = responses.map((r) => r.status).sort();
        expect(statuses).toEqual([201, 201, 503, 503]);
        const shed = responses.find((r) => r.status === 503);
        expect(shed?.headers.get("retry-after")).toBe("1");
        expect(shed?.body).toMatchObject({ error: "overloaded" });
    });

    it("counts queued work by report size: a burst of small reports within the same work is not shed", async () => {
        service = await startInProcess(reports, reportsEnv, { REPORT_WORKERS: "1", REPORT_QUEUE: "1", MAX_REPORT_SIZE: String(BIG) });
        const { url } = service;
        const responses = await Promise.all(Array.from({ length: 16 }, (_, seed) => request("POST", `${url}/reports`, { size: BIG / 8, seed })));
        expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 16 }, () => 201));
    });
});
