import { afterEach, describe, expect, it } from "vitest";
import { type RunningService } from "@kubeforge/service-kit";
import { request, runToExit, startInProcess } from "../../kit/test/support";
import { messages, messagesEnv } from "../src/app";

let service: RunningService | undefined;
afterEach(async () => {
    await service?.shutdown();
    service = undefined;
});

async function start(env: Record<string, string> = {}): Promise<string> {
    service = await startInProcess(messages, messagesEnv, env);
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
    });

    it("refuses caps whose product exceeds the memory budget, at startup", async () => {
        const { code, stderr } = await runToExit("messages", { MAX_TOPICS: "10000", MAX_MESSAGES_PER_TOPIC: "1000" });
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
