import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningService } from "@kubeforge/service-kit";
import { request, requestCount, runToExit, scrape, startInProcess } from "../../kit/test/support";
import { reports, reportsEnv } from "../src/app";

let service: RunningService;
let url: string;
beforeAll(async () => {
    service = await startInProcess(reports, reportsEnv, { MAX_REPORT_SIZE: "50000" });
    url = service.url;
});
afterAll(() => service.shutdown());

describe("POST /reports", () => {
    it("builds a report and answers 201", async () => {
        const response = await request("POST", `${url}/reports`, { size: 1000, seed: 9 });
        expect(response.status).toBe(201);
        expect(response.body).toMatchObject({ id: "1000-9", size: 1000, seed: 9, stats: { p50: expect.any(Number) } });
    });

    it("defaults the seed to 1", async () => {
        expect((await request("POST", `${url}/reports`, { size: 10 })).body).toMatchObject({ id: "10-1", seed: 1 });
    });

    it.each([
        [{ size: 0 }, "body.size: must be at least 1"],
        [{ size: 50_001 }, "body.size: must be at most 50000"],
        [{ size: 2.5 }, "body.size: "],
        [{ size: "100" }, "body.size: "],
        [{}, "body.size: "],
        [{ size: 10, seed: -1 }, "body.seed: must be at least 0"],
        [{ size: 10, seed: 2 ** 32 }, "body.seed: must be at most 4294967295"],
        [{ size: 10, format: "pdf" }, "format"],
    ])("rejects %j with a 400", async (body, message) => {
        const response = await request("POST", `${url}/reports`, body);
        expect(response.status).toBe(400);
        expect(response.body).toMatchObject({ error: "bad_request", message: expect.stringContaining(message) });
    });

    it("rejects malformed JSON with a 400", async () => {
        expect(await request("POST", `${url}/reports`, '{"size":')).toMatchObject({ status: 400, body: { error: "bad_request" } });
    });
});

describe("GET /reports/:id", () => {
    it("answers the same report the POST built", async () => {
        const created = await request("POST", `${url}/reports`, { size: 3000, seed: 5 });
        expect(await request("GET", `${url}/reports/3000-5`)).toMatchObject({ status: 200, body: created.body });
    });

    it.each(["nope", "0-1", "50001-1", "12-"])("answers 404 for %j", async (id) => {
        expect(await request("GET", `${url}/reports/${id}`)).toMatchObject({ status: 404, body: { error: "not_found" } });
    });

    it("is counted in /metrics by route template", async () => {
        const before = requestCount(await scrape(service.metricsUrl), "/reports/:id", 404);
        await request("GET", `${url}/reports/x`);
        expect(requestCount(await scrape(service.metricsUrl), "/reports/:id", 404)).toBe(before + 1);
    });
});

describe("environment", () => {
    it("exits 1 with one line naming the bad variable", async () => {
        const { code, stderr } = await runToExit("reports", { MAX_REPORT_SIZE: "9000000" });
        expect(code).toBe(1);
        expect(stderr).toBe('reports: invalid environment: MAX_REPORT_SIZE="9000000" is above 5000000\n');
    });
});
