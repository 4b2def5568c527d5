/**
 * The two helpers the e2e workflow runs after `pulumi up`: `npm run load` against the real
 * reports service on 127.0.0.1, and `npm run hpa-check` over HorizontalPodAutoscaler lists as
 * `kubectl get hpa -o json` prints them (each object valid against the official schema).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ChildService, freePort, spawnService } from "../services/kit/test/support";
import { main as hpaCheck } from "../scripts/hpa-check";
import { main as loadMain } from "../scripts/load";
import { validateK8s } from "./validate";

describe("npm run load against the real reports service", () => {
    let reports: ChildService;
    beforeAll(async () => {
        reports = await spawnService("reports");
    }, 60_000);
    afterAll(async () => {
        reports.child.kill("SIGKILL");
        await reports.exited;
    });

    const run = async (args: string[]) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await loadMain(args, (l) => out.push(l), (l) => err.push(l));
        return { code, out, err };
    };

    it("keeps the connections busy for the time asked and counts the answers per status", async () => {
        const url = `${reports.url}/reports/20000-7`;
        const { code, out } = await run([url, "--seconds", "1", "--connections", "2"]);
        expect(code).toBe(0);
        expect(out).toHaveLength(1);
        const m = new RegExp(`^${url.replace(/[.?]/g, "\\$&")}: ([0-9]+) requests in (1\\.[0-9]) s \\([0-9.]+/s\\); 200: ([0-9]+)$`).exec(out[0]!);
        expect(m, out[0]).not.toBeNull();
        expect(Number(m![3])).toBe(Number(m![1]));
        expect(Number(m![1])).toBeGreaterThan(2);
    });

    it("exits 1 when nothing answers 2xx, naming what came back", async () => {
        const notFound = await run([`${reports.url}/reports/not-an-id`, "--seconds", "1", "--connections", "1"]);
        expect(notFound.code).toBe(1);
        expect(notFound.out[0]).toMatch(/; 404: [0-9]+$/);
        const refused = await run([`http://127.0.0.1:${await freePort()}/`, "--seconds", "1", "--connections", "1"]);
        expect(refused.code).toBe(1);
        expect(refused.out[0]).toMatch(/; ECONNREFUSED: [0-9]+$/);
    });

    it.each([
        [[], /^usage: npm run load -- <url>/],
        [["ftp://x/"], /^"ftp:\/\/x\/" is not an http\(s\) URL; usage/],
        [["http://x/", "--seconds", "0"], /^--seconds: "0" is not a whole number from 1 to 3600$/],
        [["http://x/", "--connections", "many"], /^--connections: "many" is not a whole number from 1 to 1000$/],
        [["http://x/", "--rate", "3"], /^Unknown option '--rate'/],
    ])("refuses %j in one line, exit 2", async (args, message) => {
        const { code, out, err } = await run(args as string[]);
        expect({ code, out, lines: err.length }).toEqual({ code: 2, out: [], lines: 1 });
        expect(err[0]).toMatch(message);
    });
});

/** An autoscaling/v2 HPA with a status, as the API server returns it. */
function hpa(name: string, min: number, current: number, desired = current, metrics = true): Record<string, unknown> {
    return {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name, namespace: "kubeforge" },
        spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
            minReplicas: min,
            maxReplicas: 5,
            metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
        },
        status: {
            currentReplicas: current,
            desiredReplicas: desired,
            ...(metrics ? { currentMetrics: [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: current > min ? 240 : 3, averageValue: "600m" } } }] } : {}),
            conditions: [{ type: "AbleToScale", status: "True", reason: "ReadyForNewScale", lastTransitionTime: "2026-01-01T00:00:00Z" }],
        },
    };
}

describe("npm run hpa-check", () => {
    let dir: string;
    beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), "kubeforge-hpa-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const list = (...items: Record<string, unknown>[]) => {
        for (const item of items) validateK8s(item);
        return JSON.stringify({ apiVersion: "v1", kind: "List", items, metadata: { resourceVersion: "" } });
    };
    const check = (stdin: string, args = ["--grows", "reports", "--steady", "backend,messages"]) => {
        const out: string[] = [];
        const code = hpaCheck(args, () => stdin, (l) => out.push(l));
        return { code, out };
    };

    it("passes when reports grew and backend and messages stayed at their minimum", () => {
        expect(check(list(hpa("backend", 1, 1), hpa("messages", 1, 1), hpa("reports", 1, 4)))).toEqual({ code: 0, out: ["hpa-check: reports grew, backend at its minimum, messages at its minimum"] });
    });

    it("names each HPA that is not as asked, one line each", () => {
        const { code, out } = check(list(hpa("backend", 1, 2), hpa("messages", 2, 2, 3), hpa("reports", 1, 1, 3)));
        expect(code).toBe(1);
        expect(out).toEqual([
            "reports: has not grown: 1 replicas (desired 3, min 1, max 5)",
            "backend: is not at its minimum: 2 replicas (desired 2, min 1, max 5)",
            "messages: is not at its minimum: 2 replicas (desired 3, min 2, max 5)",
        ]);
    });

    it("does not count an HPA without metrics (metrics-server not reporting) or one that does not exist", () => {
        const { code, out } = check(list(hpa("backend", 1, 1, 1, false), hpa("reports", 1, 3)));
        expect(code).toBe(1);
        expect(out).toEqual(["backend: no metrics yet (metrics-server has not reported); 1 replicas (desired 1, min 1, max 5)", "messages: no such HorizontalPodAutoscaler (there are: backend, reports)"]);
    });

    it("reads a relative --file from the directory npm was run in (INIT_CWD), not the package root", () => {
        writeFileSync(join(dir, "relative.json"), list(hpa("reports", 1, 2)));
        vi.stubEnv("INIT_CWD", dir);
        try {
            expect(check("", ["--grows", "reports", "--file", "relative.json"])).toEqual({ code: 0, out: ["hpa-check: reports grew"] });
        } finally {
            vi.unstubAllEnvs();
        }
    });

    it("reads --file, and refuses unusable input in one line, exit 2", () => {
        const file = join(dir, "hpa.json");
        writeFileSync(file, list(hpa("reports", 1, 2)));
        expect(check("", ["--grows", "reports", "--file", file]).code).toBe(0);
        const missing = join(dir, "nope.json");
        expect(check("", ["--grows", "reports", "--file", missing])).toEqual({ code: 2, out: [`--file ${missing}: cannot be read (${missing}: no such file); give a path relative to the directory you ran the command in, or an absolute one`] });
        expect(check("not json").out[0]).toMatch(/^stdin: is not JSON \(/);
        expect(check('{"kind":"List"}')).toEqual({ code: 2, out: ["stdin: is not the output of kubectl get hpa -o json (items: Invalid input: expected array, received undefined)"] });
        expect(check(list(), [])).toEqual({ code: 2, out: [expect.stringMatching(/^name at least one HorizontalPodAutoscaler; usage/)] });
    });
});
