// The routes, JSON and limits of messages, on a real redis-server (see redis-server.ts).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type RunningService } from "@kubeforge/service-kit";
import { request, runToExit, startInProcess } from "../../kit/test/support";
import { messages, messagesEnv } from "../src/app";
import { MAX_RECONNECT_DELAY_MS, reconnectDelay } from "../src/store";
import { RedisServer } from "./redis-server";

let redis: RedisServer;
beforeAll(async () => {
    redis = await RedisServer.start();
});
afterAll(() => redis.stop());
beforeEach(async () => {
    await redis.command("FLUSHALL");
});

let service: RunningService | undefined;
afterEach(async () => {
    await service?.shutdown();
    service = undefined;
});

async function start(env: Record<string, string> = {}): Promise<string> {
    service = await startInProcess(messages, messagesEnv, { STORE_URL: redis.url, ...env });
    return service.url;
}

const publish = (url: string, topic: string, body: unknown) => request("POST", `${url}/topics/${topic}/messages`, body);
const read = (url: string, topic: string, query = "") => request("GET", `${url}/topics/${topic}/messages${query}`);

describe("publish and read", () => {
    it("publishes with 201 and reads back in order", async () => {
        const url = await start();
        const first = await publish(url, "news", { body: "one" });
        expect(first.status).toBe(201);
        expect(first.body).toMatchObject({ seq: 1, topic: "news", body: "one", publishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
        await publish(url, "news", { body: "two" });
        await publish(url, "other", { body: "elsewhere" });

        const response = await read(url, "news");
        expect(response.status).toBe(200);
        expect(response.body).toMatchObject({ topic: "news", messages: [{ seq: 1, body: "one" }, { seq: 2, body: "two" }] });
    });

    it("reads the most recent `limit` messages", async () => {
        const url = await start();
        for (const body of ["a", "b", "c"]) await publish(url, "t", { body });
        expect((await read(url, "t", "?limit=2")).body).toMatchObject({ messages: [{ body: "b" }, { body: "c" }] });
    });

    it("answers an empty list for a topic nobody published to", async () => {
        const url = await start();
        expect(await read(url, "quiet")).toMatchObject({ status: 200, body: { topic: "quiet", messages: [] } });
    });
});

describe("bounded memory", () => {
    it("keeps only the newest MAX_MESSAGES_PER_TOPIC messages of a topic", async () => {
        const url = await start({ MAX_MESSAGES_PER_TOPIC: "3" });
        for (let i = 1; i <= 5; i++) expect((await publish(url, "t", { body: `m${i}` })).status).toBe(201);
        const { body } = await read(url, "t", "?limit=3");
        expect(body).toMatchObject({ messages: [{ seq: 3 }, { seq: 4 }, { seq: 5 }] });
    });

    it("refuses a new topic past MAX_TOPICS with a 429, and still accepts existing topics", async () => {
        const url = await start({ MAX_TOPICS: "2" });
        await publish(url, "a", { body: "x" });
        await publish(url, "b", { body: "x" });
        const refused = await publish(url, "c", { body: "x" });
        expect(refused).toMatchObject({ status: 429, body: { error: "too_many_topics", message: expect.stringContaining("(2)") } });
        expect((await publish(url, "a", { body: "y" })).status).toBe(201);
        expect((await read(url, "c")).body).toMatchObject({ messages: [] });
    });

    it("refuses a message over MAX_MESSAGE_BYTES (UTF-8 bytes) with a 413", async () => {
        const url = await start({ MAX_MESSAGE_BYTES: "8" });
        expect((await publish(url, "t", { body: "12345678" })).status).toBe(201);
        const response = await publish(url, "t", { body: "ééééé" }); // 5 characters, 10 bytes
        expect(response).toMatchObject({ status: 413, body: { error: "message_too_large", message: "body is 10 bytes; the limit is 8" } });
        expect((await read(url, "t")).body).toMatchObject({ messages: [{ body: "12345678" }] });
    });

    it("keeps what was published across a restart of the service (the store holds it)", async () => {
        let url = await start();
        await publish(url, "t", { body: "before" });
        await service?.shutdown();
        url = await start();
        expect((await publish(url, "t", { body: "after" })).body).toMatchObject({ seq: 2 });
        expect((await read(url, "t")).body).toMatchObject({ messages: [{ seq: 1, body: "before" }, { seq: 2, body: "after" }] });
    });

    it("keeps text the store's JSON encoding must escape exactly as published", async () => {
        const url = await start();
        const body = 'quote " backslash \\ slash / newline \n tab \t emoji 😀 é';
        expect((await publish(url, "t", { body })).body).toMatchObject({ body });
        expect((await read(url, "t")).body).toMatchObject({ messages: [{ body }] });
    });

    it("refuses caps whose product exceeds the memory budget, at startup", async () => {
        const { code, stderr } = await runToExit("messages", { STORE_URL: redis.url, MAX_TOPICS: "10000", MAX_MESSAGES_PER_TOPIC: "1000" });
        expect(code).toBe(1);
        expect(stderr).toMatch(/^messages: invalid environment: MAX_TOPICS="10000" times MAX_MESSAGES_PER_TOPIC times MAX_MESSAGE_BYTES is 40960000000 bytes, above the 67108864-byte budget\n$/);
    });
});

describe("input validation", () => {
    it.each([
        ["a bad topic name", "Bad_Topic", { body: "x" }, "params.topic: "],
        ["a topic over 63 characters", "t".repeat(64), { body: "x" }, "params.topic: "],
        ["a missing body", "t", {}, "body.body: "],
        ["an empty body", "t", { body: "" }, "body.body: must not be empty"],
        ["a non-string body", "t", { body: 42 }, "body.body: "],
        ["an unknown field", "t", { body: "x", priority: 1 }, "priority"],
        ["malformed JSON", "t", '{"body":', "not valid JSON"],
    ])("rejects %s with a 400", async (_what, topic, body, message) => {
        const url = await start();
        const response = await publish(url, topic, body);
        expect(response.status).toBe(400);
        expect(response.body).toMatchObject({ error: "bad_request", message: expect.stringContaining(message) });
    });

    it.each(["?limit=0", "?limit=abc", "?limit=101", "?limit=1&limit=2", "?since=3"])("rejects the query %s with a 400", async (query) => {
        const url = await start();
        expect(await read(url, "t", query)).toMatchObject({ status: 400, body: { error: "bad_request" } });
    });
});

describe("store environment", () => {
    const line = async (env: Record<string, string>) => {
        const { code, stderr } = await runToExit("messages", env);
        expect(code).toBe(1);
        expect(stderr.split("\n").filter(Boolean)).toHaveLength(1);
        return stderr.trim();
    };

    it("requires STORE_URL", async () => {
        expect(await line({})).toBe("messages: invalid environment: STORE_URL is required");
    });

    it.each([
        ["http://store:6379", 'STORE_URL="http://store:6379" is not a redis:// or rediss:// URL'],
        ["store:6379", 'STORE_URL="store:6379" is not a redis:// or rediss:// URL'],
        ["redis//store", 'STORE_URL="redis//store" is not a URL (expected redis://host:6379 or rediss://host:6379)'],
        ["redis://store:6379/16", 'STORE_URL="redis://store:6379/16" has a path that is not a database number 0-15'],
        ["redis://store:6379?db=1", 'STORE_URL="redis://store:6379?db=1" must not have a query or fragment'],
        ["redis://:s3cret@store:99999", 'STORE_URL="redis://:***@store:99999" is not a URL (expected redis://host:6379 or rediss://host:6379)'],
    ])("rejects STORE_URL %j in one line, never showing a password", async (value, message) => {
        const text = await line({ STORE_URL: value });
        expect(text).toBe(`messages: invalid environment: ${message}`);
        expect(text).not.toContain("s3cret");
    });

    it("refuses a password in both STORE_URL and STORE_PASSWORD, showing neither", async () => {
        const text = await line({ STORE_URL: "rediss://default:s3cret@store:6379", STORE_PASSWORD: "other" });
        expect(text).toBe("messages: invalid environment: STORE_PASSWORD=(hidden) is set and STORE_URL carries a password too; give it in one place");
    });

    it("bounds STORE_TIMEOUT_MS", async () => {
        expect(await line({ STORE_URL: "redis://store", STORE_TIMEOUT_MS: "5" })).toBe('messages: invalid environment: STORE_TIMEOUT_MS="5" is below 10');
    });

    it("authenticates with STORE_PASSWORD, and answers 503 store_unavailable with a wrong one", async () => {
        await redis.command("CONFIG SET requirepass s3cret");
        try {
            const url = await start({ STORE_PASSWORD: "s3cret" });
            expect((await publish(url, "t", { body: "x" })).status).toBe(201);
            await service?.shutdown();
            const wrong = await start({ STORE_URL: redis.url.replace("redis://", "redis://:wrong@"), STORE_TIMEOUT_MS: "200" });
            const refused = await publish(wrong, "t", { body: "x" });
            expect(refused).toMatchObject({ status: 503, body: { error: "store_unavailable" } });
            expect(refused.headers.get("retry-after")).toBe("1");
        } finally {
            await redis.command("AUTH s3cret", 'CONFIG SET requirepass ""');
        }
    });
});

describe("reconnecting", () => {
    it("backs off from 50 ms, doubling, never more than a second apart (plus up to 50 ms of jitter)", () => {
        const delays = Array.from({ length: 40 }, (_, i) => reconnectDelay(i + 1));
        expect(delays[0]).toBeGreaterThanOrEqual(50);
        expect(delays[0]).toBeLessThan(100);
        for (const d of delays) expect(d).toBeLessThan(MAX_RECONNECT_DELAY_MS + 50);
        expect(delays.slice(10).every((d) => d >= MAX_RECONNECT_DELAY_MS)).toBe(true);
    });
});
