/**
 * messages as it runs in a cluster: several real processes on one real redis-server. Every
 * replica reads what any replica published; the caps and `seq` hold under concurrent publishes
 * from two processes; the store killed or hung is a bounded 503 `store_unavailable` with
 * `Retry-After`, never a crash, and the service recovers by itself when the store returns.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ChildService, type JsonResponse, request, spawnService } from "../../kit/test/support";
import type { Message } from "../src/store";
import { MISSING_REDIS, RedisServer, redisServerPath } from "./redis-server";

let redis: RedisServer;
beforeAll(async () => {
    redis = await RedisServer.start();
});
afterAll(() => redis.stop());

const running: ChildService[] = [];
beforeEach(async () => {
    await redis.command("FLUSHALL");
});
afterEach(async () => {
    for (const s of running.splice(0)) {
        s.child.kill("SIGTERM");
        await s.exited;
    }
});

/** Starts `count` messages processes on the test store. */
async function replicas(count: number, env: Record<string, string> = {}): Promise<ChildService[]> {
    const started = await Promise.all(Array.from({ length: count }, () => spawnService("messages", { STORE_URL: redis.url, ...env })));
    running.push(...started);
    return started;
}

const publish = (url: string, topic: string, body: string) => request("POST", `${url}/topics/${topic}/messages`, { body });
const read = (url: string, topic: string, query = "") => request("GET", `${url}/topics/${topic}/messages${query}`);
const messagesOf = (response: JsonResponse) => (response.body as { messages: Message[] }).messages;

/** Runs `publishes` at once, alternating between the replicas. */
function burst(urls: string[], publishes: number, topicOf: (i: number) => string): Promise<JsonResponse[]> {
    return Promise.all(Array.from({ length: publishes }, (_, i) => publish(urls[i % urls.length]!, topicOf(i), `m${i}`)));
}

describe("the test store", () => {
    it("is a real redis-server, and a missing one fails with the install command, in one line", () => {
        expect(redisServerPath()).toMatch(/\/redis-server$/);
        expect(() => redisServerPath("/nonexistent")).toThrow(MISSING_REDIS);
        expect(MISSING_REDIS).not.toContain("\n");
        expect(MISSING_REDIS).toContain("apt-get install -y redis-server");
    });
});

describe("two replicas on one store", () => {
    it("reads through one replica what was published through the other", async () => {
        const [a, b] = await replicas(2);
        expect((await publish(a!.url, "news", "from a")).status).toBe(201);
        expect((await publish(b!.url, "news", "from b")).status).toBe(201);
        for (const replica of [a!, b!]) {
            expect(messagesOf(await read(replica.url, "news"))).toMatchObject([
                { seq: 1, topic: "news", body: "from a" },
                { seq: 2, topic: "news", body: "from b" },
            ]);
        }
    });

    it("keeps seq unique and increasing, and the per-topic cap, under concurrent publishes from both", async () => {
        const replicasUp = await replicas(2, { MAX_MESSAGES_PER_TOPIC: "50" });
        const urls = replicasUp.map((r) => r.url);
        const responses = await burst(urls, 400, () => "hot");
        expect(responses.map((r) => r.status)).toEqual(Array(400).fill(201));
        const seqs = responses.map((r) => (r.body as Message).seq).sort((x, y) => x - y);
        expect(seqs).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));

        // Only the newest 50 are kept, in seq order, whichever replica reads them.
        for (const url of urls) {
            const kept = messagesOf(await read(url, "hot", "?limit=50"));
            expect(kept.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 351 + i));
            // The store's clock stamps them: never earlier for a later seq.
            const times = kept.map((m) => Date.parse(m.publishedAt));
            expect(times).toEqual([...times].sort((x, y) => x - y));
        }
        expect(await redis.command("LLEN {messages}:topic:hot")).toBe(":50");
    });

    it("holds the topic cap across replicas publishing new topics at once", async () => {
        const urls = (await replicas(2, { MAX_TOPICS: "5" })).map((r) => r.url);
        const topicOf = (i: number) => `t${i % 20}`;
        const responses = await burst(urls, 80, topicOf);
        const accepted = new Set(responses.filter((r) => r.status === 201).map((r) => (r.body as Message).topic));
        expect(accepted.size).toBe(5);
        responses.forEach((r, i) => {
            // A topic is either in (every publish to it accepted) or out (every one refused).
            if (accepted.has(topicOf(i))) expect(r.status).toBe(201);
            else expect(r).toMatchObject({ status: 429, body: { error: "too_many_topics" } });
        });
        expect(await redis.command("SCARD {messages}:topics")).toBe(":5");
    });

    it("applies the message size cap on every replica", async () => {
        const urls = (await replicas(2, { MAX_MESSAGE_BYTES: "8" })).map((r) => r.url);
        for (const url of urls) {
            expect(await publish(url, "t", "ééééé")).toMatchObject({ status: 413, body: { error: "message_too_large" } });
        }
        expect(await redis.command("EXISTS {messages}:topic:t")).toBe(":0");
    });
});

describe("the store down or slow", () => {
    const TIMEOUT_MS = 300;

    /** Publishes and measures how long the answer took. */
    async function timedPublish(url: string, body: string): Promise<{ response: JsonResponse; ms: number }> {
        const started = Date.now();
        const response = await publish(url, "t", body);
        return { response, ms: Date.now() - started };
    }

    function expectUnavailable(response: JsonResponse): void {
        expect(response).toMatchObject({ status: 503, body: { error: "store_unavailable" } });
        expect(response.headers.get("retry-after")).toBe("1");
    }

    /** Publishes until one is accepted (the service reconnecting by itself), for at most `ms`. */
    async function publishUntilAccepted(url: string, body: string, ms: number): Promise<Message> {
        const deadline = Date.now() + ms;
        for (;;) {
            const response = await publish(url, "t", body);
            if (response.status === 201) return response.body as Message;
            expectUnavailable(response);
            if (Date.now() > deadline) throw new Error(`no publish accepted within ${ms} ms of the store's return`);
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }

    it("answers 503 store_unavailable at once while the store is down, keeps running, and recovers when it returns", async () => {
        const [service] = await replicas(1, { STORE_TIMEOUT_MS: String(TIMEOUT_MS) });
        const url = service!.url;
        expect((await publish(url, "t", "before")).status).toBe(201);

        await redis.kill();
        // While it is down, nothing waits: every answer comes within the command timeout.
        const during = await Promise.all(Array.from({ length: 200 }, (_, i) => timedPublish(url, `lost ${i}`)));
        for (const { response, ms } of during) {
            expectUnavailable(response);
            expect(ms).toBeLessThan(TIMEOUT_MS + 700);
        }
        expectUnavailable(await read(url, "t"));
        // Liveness and readiness do not follow the store.
        expect((await request("GET", `${url}/healthz`)).status).toBe(200);
        expect((await request("GET", `${url}/readyz`)).status).toBe(200);
        expect(service!.child.exitCode).toBeNull();

        await redis.restart();
        const after = await publishUntilAccepted(url, "after", 5000);
        // Nothing refused during the outage was queued and replayed: "after" follows "before".
        expect(after.seq).toBe(2);
        expect(messagesOf(await read(url, "t")).map((m) => m.body)).toEqual(["before", "after"]);
        expect(service!.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(["store unreachable; answering 503 store_unavailable until it is back", "store reachable again"]));
    });

    it("answers 503 store_unavailable within STORE_TIMEOUT_MS when the store hangs, and recovers when it answers again", async () => {
        const [service] = await replicas(1, { STORE_TIMEOUT_MS: String(TIMEOUT_MS) });
        const url = service!.url;
        expect((await publish(url, "t", "before")).status).toBe(201);

        redis.pause();
        try {
            const { response, ms } = await timedPublish(url, "hung");
            expectUnavailable(response);
            expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
            expect(ms).toBeLessThan(TIMEOUT_MS + 700);
            expect((await request("GET", `${url}/readyz`)).status).toBe(200);
        } finally {
            redis.resume();
        }
        const after = await publishUntilAccepted(url, "after", 5000);
        expect(after.seq).toBeGreaterThan(1);
        expect(service!.child.exitCode).toBeNull();
    });

    it("starts without the store, answers 503 until it is reachable, then works", async () => {
        await redis.kill();
        let restarted = false;
        try {
            const [service] = await replicas(1, { STORE_TIMEOUT_MS: String(TIMEOUT_MS) });
            expect(service!.logs.map((l) => l.msg)).toContain("starting without the store; requests answer 503 store_unavailable until it is reachable");
            expectUnavailable(await publish(service!.url, "t", "early"));
            await redis.restart();
            restarted = true;
            expect((await publishUntilAccepted(service!.url, "late", 5000)).body).toBe("late");
        } finally {
            if (!restarted) await redis.restart();
        }
    });

    it("still drains and exits 0 on SIGTERM, with the store up or down", async () => {
        const [up, down] = await replicas(2, { STORE_TIMEOUT_MS: String(TIMEOUT_MS) });
        expect((await publish(up!.url, "t", "x")).status).toBe(201);
        up!.child.kill("SIGTERM");
        expect(await up!.exited).toBe(0);

        await redis.kill();
        try {
            expectUnavailable(await publish(down!.url, "t", "y"));
            const started = Date.now();
            down!.child.kill("SIGTERM");
            expect(await down!.exited).toBe(0);
            expect(Date.now() - started).toBeLessThan(5000);
            expect(down!.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(["draining", "stopped"]));
        } finally {
            await redis.restart();
        }
    });
});
