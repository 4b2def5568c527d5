/** reports builds on worker threads: probes stay fast while it is busy, and overload is shed. */
import { afterEach, describe, expect, it } from "vitest";
import { type RunningService } from "@kubeforge/service-kit";
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

    it("sheds load past REPORT_WORKERS + REPORT_QUEUE with a 503 and Retry-After", async () => {
        service = await startInProcess(reports, reportsEnv, { REPORT_WORKERS: "1", REPORT_QUEUE: "1", MAX_REPORT_SIZE: String(BIG) });
        const { url } = service;
        const responses = await Promise.all(Array.from({ length: 4 }, () => request("POST", `${url}/reports`, { size: BIG / 4 })));
        const statuses = responses.map((r) => r.status).sort();
        expect(statuses).toEqual([201, 201, 503, 503]);
        const shed = responses.find((r) => r.status === 503);
        expect(shed?.headers.get("retry-after")).toBe("1");
        expect(shed?.body).toMatchObject({ error: "overloaded" });
    });
});
