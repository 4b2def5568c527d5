/**
 * `npm run smoke` against the real services: backend, messages and reports run as child
 * processes on 127.0.0.1 (as their own tests start them), each URL standing in for its load
 * balancer, healthy and with one of them down; and its answers to unusable input.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ChildService, spawnService } from "../services/kit/test/support";
import { RedisServer } from "../services/messages/test/redis-server";
import { baseUrl, main, parseEndpoints, SmokeInputError } from "../scripts/smoke";

let dir: string;
const services: Record<string, ChildService> = {};

/** Write `content` (JSON unless a string) to a file of the test directory; its path. */
function file(name: string, content: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
    return path;
}

/** The endpoints output of the running services, as `pulumi stack output endpoints --json` prints it. */
function endpoints(overrides: Record<string, Partial<{ address: string; url: string }>> = {}): Record<string, unknown> {
    return Object.fromEntries(Object.entries(services).map(([name, s]) => [name, { name, namespace: "kubeforge", address: new URL(s.url).host, url: s.url, ...overrides[name] }]));
}

async function smoke(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, (line) => out.push(line), (line) => err.push(line));
    return { code, out, err };
}

let redis: RedisServer | undefined;

beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kubeforge-smoke-"));
    // messages keeps its topics in a real store (issue #13).
    redis = await RedisServer.start();
    const [messages, reports] = await Promise.all([spawnService("messages", { STORE_URL: redis.url }), spawnService("reports")]);
    services.messages = messages;
    services.reports = reports;
    services.backend = await spawnService("backend", { MESSAGES_URL: messages.url, REPORTS_URL: reports.url });
}, 60_000);

afterAll(async () => {
    for (const s of Object.values(services)) {
        if (s.child.exitCode === null) s.child.kill("SIGKILL");
        await s.exited;
    }
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
});

describe("npm run smoke against the running services", () => {
    it("passes every service: readiness, its API call through backend, the error shape", async () => {
        const result = await smoke(["dev", "--endpoints", file("healthy.json", endpoints())]);
        expect(result).toEqual({ code: 0, out: ["messages: ok", "reports: ok", "backend: ok"], err: [] });
    });

    it("reads a relative --endpoints FILE from the directory npm was run in (INIT_CWD), not the package root", async () => {
        file("relative.json", endpoints());
        vi.stubEnv("INIT_CWD", dir);
        try {
            expect(await smoke(["dev", "--endpoints", "relative.json"])).toEqual({ code: 0, out: ["messages: ok", "reports: ok", "backend: ok"], err: [] });
        } finally {
            vi.unstubAllEnvs();
        }
    });

    it("uses the address when a url is empty, and says so", async () => {
        const address = new URL(services.messages!.url).host;
        const result = await smoke(["dev", "--endpoints", file("no-url.json", endpoints({ messages: { url: "" } }))]);
        expect(result.code).toBe(0);
        expect(result.out).toContain(`messages: url is empty, using http://${address} (its address)`);
        expect(result.out).toContain("messages: ok");
    });

    it("checks a service without a load balancer through backend only, and says so", async () => {
        const result = await smoke(["dev", "--endpoints", file("no-lb.json", endpoints({ reports: { url: "", address: "" } }))]);
        expect(result.code).toBe(0);
        expect(result.out).toEqual(expect.arrayContaining(["reports: no load balancer (address and url are empty): checked through backend only", "reports: ok"]));
    });

    it("names the one service that is down, and what failed, in one line; exits 1", async () => {
        const reports = services.reports!;
        const url = reports.url;
        reports.child.kill("SIGKILL");
        await reports.exited;
        const result = await smoke(["dev", "--endpoints", file("down.json", endpoints())]);
        expect(result.code).toBe(1);
        expect(result.out.filter((line) => !line.endsWith(": ok"))).toHaveLength(1);
        expect(result.out).toEqual(expect.arrayContaining(["backend: ok", "messages: ok"]));
        const line = result.out.find((l) => l.startsWith("reports: "))!;
        expect(line).toBe(
            `reports: FAILED: readiness: GET ${url}/readyz: cannot connect (ECONNREFUSED); ` +
                `API through backend: build: POST ${services.backend!.url}/api/reports answered 502 {"error":"upstream_unreachable","message":"reports is unreachable: connect ECONNREFUSED ${new URL(url).host}"} (expected 201); ` +
                `error shape: POST ${url}/reports: cannot connect (ECONNREFUSED)`,
        );
    });
});

describe("npm run smoke with unusable input: one line, exit 2", () => {
    const unusable = async (args: string[]) => {
        const result = await smoke(args);
        expect(result.code).toBe(2);
        expect(result.out).toEqual([]);
        expect(result.err).toHaveLength(1);
        return result.err[0];
    };

    it("a missing FILE", async () => {
        const path = join(dir, "nope.json");
        expect(await unusable(["dev", "--endpoints", path])).toBe(`--endpoints ${path}: cannot be read (${path}: no such file); give a path relative to the directory you ran the command in, or an absolute one`);
    });

    it("malformed JSON", async () => {
        const path = file("broken.json", '{"backend": {');
        expect(await unusable(["dev", "--endpoints", path])).toMatch(new RegExp(`^${path}: is not JSON \\(`));
    });

    it("an endpoint without an address", async () => {
        const path = file("no-address.json", { backend: { address: "b", url: "" }, messages: { url: "http://m" } });
        expect(await unusable(["dev", "--endpoints", path])).toBe(`${path}: messages.address: is missing (the load balancer's IP or hostname, empty without one)`);
    });

    it("endpoints without backend, or not an object", async () => {
        expect(await unusable(["dev", "--endpoints", file("no-backend.json", { messages: { address: "m" } })])).toMatch(/: has no backend endpoint; the smoke test calls every service through backend \(services: messages\)$/);
        expect(await unusable(["dev", "--endpoints", file("array.json", [])])).toMatch(/array\.json: must be an object of service name to endpoint$/);
    });

    it("no stack, or an unknown option", async () => {
        expect(await unusable([])).toMatch(/^usage: npm run smoke -- <stack> \[--endpoints FILE\]/);
        expect(await unusable(["dev", "--endpoint", "x"])).toMatch(/Unknown option '--endpoint'.*; usage: npm run smoke -- <stack> \[--endpoints FILE\]$/);
    });

    it("no Pulumi CLI to read the stack's output from", async () => {
        const path = process.env.PATH;
        process.env.PATH = join(dir, "empty");
        try {
            expect(await unusable(["dev"])).toBe("pulumi: not found on PATH; install the Pulumi CLI (https://www.pulumi.com/docs/install/) or pass --endpoints FILE");
        } finally {
            process.env.PATH = path;
        }
    });
});

describe("endpoint parsing", () => {
    it("takes the stack output's shape, url optional, extra fields ignored", () => {
        expect(parseEndpoints('{"backend":{"name":"backend","namespace":"kubeforge","address":"a"}}', "x")).toEqual({ backend: { address: "a", url: "" } });
        expect(() => parseEndpoints('{"backend":{"address":1}}', "x")).toThrow(SmokeInputError);
    });

    it("prefers url, then http://address, else none", () => {
        expect(baseUrl({ address: "a", url: "https://b/" })).toEqual({ url: "https://b" });
        expect(baseUrl({ address: "a", url: "" })).toEqual({ url: "http://a", note: "url is empty, using http://a (its address)" });
        expect(baseUrl({ address: "", url: "" }).url).toBeUndefined();
    });
});
