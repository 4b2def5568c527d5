/**
 * Topics in a shared Redis-protocol store (Valkey, ElastiCache for Valkey, any Redis 7 server),
 * so every replica of messages reads what any replica published, and a restart loses nothing.
 *
 * Keys (one hash tag, so the publish script's keys share a slot should the store ever run in
 * cluster mode):
 * - `{messages}:topics`: the set of topic names (the topic cap counts it);
 * - `{messages}:seq:<topic>`: the topic's last `seq` (INCR);
 * - `{messages}:topic:<topic>`: the topic's newest messages, oldest first, each a JSON object
 *   `{seq, ts, body}` (`ts`: the store's clock, milliseconds since the epoch).
 *
 * Publishing is one Lua script, so the store runs it atomically: the topic cap, the next `seq` and
 * the trim to the per-topic cap hold however many replicas publish at once (no check-then-write
 * between round trips).
 *
 * The store down or slow never queues work in this process: commands fail at once while the
 * connection is down (no offline queue), a command the store does not answer fails after
 * `timeoutMs`, and the client reconnects by itself. Every such failure is a 503
 * `store_unavailable` with `Retry-After`.
 */
import { HttpError } from "@kubeforge/service-kit";
import { Redis } from "ioredis";
import type { FastifyBaseLogger } from "fastify";

/** One published message. */
export interface Message {
    /** Position in its topic, from 1, unique and increasing across all replicas. */
    seq: number;
    /** Topic it was published to. */
    topic: string;
    /** The text published. */
    body: string;
    /** When the store accepted it (ISO 8601, the store's clock). */
    publishedAt: string;
}

/** Where the store is and how to reach it (from `STORE_URL` and `STORE_PASSWORD`). */
export interface StoreAddress {
    host: string;
    port: number;
    /** `rediss://`: TLS, verified against the system's CAs. */
    tls: boolean;
    /** ACL user; none for the `default` user (AUTH with the password alone). */
    username?: string;
    password?: string;
    /** Database number (the URL's path), default 0. */
    db: number;
}

/** The caps that bound what the store holds. */
export interface TopicLimits {
    /** Most topics; a new topic past it is refused (429). */
    maxTopics: number;
    /** Most messages kept per topic; older ones are dropped as new ones arrive. */
    maxPerTopic: number;
}

/** Seconds a client should wait before retrying after a 503 `store_unavailable`. */
export const RETRY_AFTER_SECONDS = 1;

/** Longest pause between two reconnection attempts, in milliseconds. */
export const MAX_RECONNECT_DELAY_MS = 1000;

const KEYS = {
    topics: "{messages}:topics",
    seq: (topic: string) => `{messages}:seq:${topic}`,
    list: (topic: string) => `{messages}:topic:${topic}`,
};

/**
 * KEYS: topics set, the topic's seq counter, the topic's list. ARGV: topic, body, max topics,
 * max messages per topic. Returns `{seq, ts}`, or nil when the topic is new and the cap reached.
 * TIME in a script that writes needs effects replication (the only mode since Redis 7).
 */
export const PUBLISH_SCRIPT = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return false end
  redis.call('SADD', KEYS[1], ARGV[1])
end
local seq = redis.call('INCR', KEYS[2])
local now = redis.call('TIME')
local ts = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('RPUSH', KEYS[3], cjson.encode({seq = seq, ts = ts, body = ARGV[2]}))
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
return {seq, ts}
`;

/** The client with the publish script defined on it (ioredis `defineCommand`: EVALSHA, EVAL on NOSCRIPT). */
interface ScriptedClient extends Redis {
    publishMessage(topics: string, seq: string, list: string, topic: string, body: string, maxTopics: number, maxPerTopic: number): Promise<[number, number] | null>;
}

/** Delay before the `attempt`-th reconnection: 50 ms doubling, at most {@link MAX_RECONNECT_DELAY_MS}, plus jitter. */
export function reconnectDelay(attempt: number): number {
    return Math.min(50 * 2 ** Math.min(attempt - 1, 10), MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 50);
}

export class TopicStore {
    private readonly client: ScriptedClient;
    /** Whether the last connection event was a loss (so an outage is logged once, not per retry). */
    private down = false;

    constructor(
        address: StoreAddress,
        private readonly limits: TopicLimits,
        /** Bound of one command (and of one connection attempt), in milliseconds. */
        private readonly timeoutMs: number,
        private readonly log: FastifyBaseLogger,
    ) {
        this.client = new Redis({
            host: address.host,
            port: address.port,
            username: address.username,
            password: address.password,
            db: address.db,
            tls: address.tls ? {} : undefined,
            // RESP2 and AUTH <password>: what every Redis-protocol server and ElastiCache's
            // AUTH-token mode speak.
            protocol: 2,
            connectTimeout: timeoutMs,
            commandTimeout: timeoutMs,
            // Nothing waits for a connection: fail at once while it is down, and never replay a
            // command whose caller already got its 503.
            enableOfflineQueue: false,
            maxRetriesPerRequest: 0,
            autoResendUnfulfilledCommands: false,
            // Keep reconnecting, never more than a second apart, so the service recovers by itself.
            retryStrategy: reconnectDelay,
            connectionName: "messages",
        }) as ScriptedClient;
        this.client.defineCommand("publishMessage", { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
        this.client.on("ready", () => {
            this.log.info({ store: `${address.host}:${address.port}` }, this.down ? "store reachable again" : "store connected");
            this.down = false;
        });
        // An 'error' listener is what keeps a connection error from crashing the process.
        this.client.on("error", (error: Error) => {
            if (this.down) return;
            this.down = true;
            this.log.warn({ err: error.message, store: `${address.host}:${address.port}` }, "store unreachable; answering 503 store_unavailable until it is back");
        });
    }

    /** Appends `body` to `topic` atomically in the store; a new topic past the topic cap is a 429. */
    async publish(topic: string, body: string): Promise<Message> {
        const { maxTopics, maxPerTopic } = this.limits;
        const reply = await this.call(() => this.client.publishMessage(KEYS.topics, KEYS.seq(topic), KEYS.list(topic), topic, body, maxTopics, maxPerTopic));
        if (reply === null) {
            throw new HttpError(429, "too_many_topics", `topic limit reached (${maxTopics}); publish to an existing topic`);
        }
        const [seq, ts] = reply;
        return { seq, topic, body, publishedAt: new Date(ts).toISOString() };
    }

    /** The `limit` most recent messages of `topic`, oldest first; none for an unknown topic. */
    async recent(topic: string, limit: number): Promise<Message[]> {
        const entries = await this.call(() => this.client.lrange(KEYS.list(topic), -limit, -1));
        return entries.map((entry) => {
            const { seq, ts, body } = JSON.parse(entry) as { seq: number; ts: number; body: string };
            return { seq, topic, body, publishedAt: new Date(ts).toISOString() };
        });
    }

    /**
     * Resolves `true` once connected, or `false` after `ms` without a connection (the service then
     * starts anyway and answers 503 until the store is reachable).
     */
    async connected(ms: number): Promise<boolean> {
        if (this.client.status === "ready") return true;
        return new Promise((resolve) => {
            const timer = setTimeout(() => {
                this.client.off("ready", onReady);
                resolve(false);
            }, ms);
            const onReady = () => {
                clearTimeout(timer);
                resolve(true);
            };
            this.client.once("ready", onReady);
        });
    }

    /** Closes the connection (QUIT when connected) and stops reconnecting. */
    async close(): Promise<void> {
        try {
            await this.client.quit();
        } catch {
            this.client.disconnect();
        }
    }

    /** Runs one store call; any failure of the store (down, slow, refusing) becomes a 503. */
    private async call<T>(command: () => Promise<T>): Promise<T> {
        try {
            return await command();
        } catch (error) {
            const reason = error instanceof Error ? error.message : String(error);
            throw new HttpError(503, "store_unavailable", `the message store did not answer: ${reason}`, { "retry-after": String(RETRY_AFTER_SECONDS) });
        }
    }
}
