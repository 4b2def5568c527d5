/**
 * messages: publish to a named topic, read a topic's recent messages. The topics live in a shared
 * Redis-protocol store (`STORE_URL`), so every replica sees every message. What the store holds
 * is bounded: a cap on the number of topics (429 past it), on messages kept per topic (oldest
 * dropped) and on the size of one message (413 past it), all enforced in the store itself.
 *
 * - `POST /topics/:topic/messages` `{ "body": "<text>" }` -> 201 with the {@link Message}
 * - `GET /topics/:topic/messages?limit=<n>` -> 200 `{ "topic", "messages": [...] }`, oldest first
 *
 * The store down or slow: 503 `store_unavailable` with `Retry-After` within `STORE_TIMEOUT_MS`.
 * Readiness does not follow the store (services/README.md says why).
 */
import { HttpError, baseEnv, intVar, parseInput, type ServiceDefinition } from "@kubeforge/service-kit";
import { z } from "zod";
import { type StoreAddress, TopicStore } from "./store";

/**
 * `STORE_URL`: `redis://` or `rediss://` (TLS), a host, an optional port (default 6379), an
 * optional database number as the path, and optionally `user:password@` or `:password@`.
 */
export function storeUrlVar() {
    return z.string().transform((value, ctx): StoreAddress => {
        const fail = (message: string) => {
            ctx.addIssue({ code: "custom", message });
            return z.NEVER;
        };
        let url: URL;
        try {
            url = new URL(value);
        } catch {
            return fail("is not a URL (expected redis://host:6379 or rediss://host:6379)");
        }
        if (url.protocol !== "redis:" && url.protocol !== "rediss:") return fail("is not a redis:// or rediss:// URL");
        if (url.hostname === "") return fail("has no host");
        if (url.search !== "" || url.hash !== "") return fail("must not have a query or fragment");
        const path = url.pathname.replace(/^\//, "");
        if (path !== "" && !/^([0-9]|1[0-5])$/.test(path)) return fail("has a path that is not a database number 0-15");
        return {
            host: url.hostname.replace(/^\[|\]$/g, ""),
            port: url.port === "" ? 6379 : Number(url.port),
            tls: url.protocol === "rediss:",
            username: url.username === "" ? undefined : decodeURIComponent(url.username),
            password: url.password === "" ? undefined : decodeURIComponent(url.password),
            db: path === "" ? 0 : Number(path),
        };
    });
}

/** Worst-case message bytes the caps let the store hold (UTF-8 bytes of bodies). */
export const MEMORY_BUDGET_BYTES = 64 * 1024 * 1024;

/** messages' environment: the base settings, where the store is, and the three caps that bound what it holds. */
export const messagesEnv = baseEnv
    .extend({
        /** The store, e.g. `redis://store.kubeforge.svc.cluster.local:6379`; required. */
        STORE_URL: storeUrlVar(),
        /** The store's password, when the URL does not carry one; default none (empty is none). */
        STORE_PASSWORD: z.string().optional().transform((v) => (v === "" ? undefined : v)),
        /** Bound of one store command and of one connection attempt, in milliseconds; default 1000. */
        STORE_TIMEOUT_MS: intVar(10, 10_000, 1000),
        /** Most topics kept; default 100. */
        MAX_TOPICS: intVar(1, 100_000, 100),
        /** Most recent messages kept per topic; default 100. */
        MAX_MESSAGES_PER_TOPIC: intVar(1, 100_000, 100),
        /** Largest message body in UTF-8 bytes; default 4096. */
        MAX_MESSAGE_BYTES: intVar(1, 1_048_576, 4096),
    })
    .superRefine((env, ctx) => {
        if (env.STORE_PASSWORD !== undefined && env.STORE_URL.password !== undefined) {
            ctx.addIssue({ code: "custom", path: ["STORE_PASSWORD"], message: "is set and STORE_URL carries a password too; give it in one place" });
        }
        const worst = env.MAX_TOPICS * env.MAX_MESSAGES_PER_TOPIC * env.MAX_MESSAGE_BYTES;
        if (worst > MEMORY_BUDGET_BYTES) {
            ctx.addIssue({
                code: "custom",
                path: ["MAX_TOPICS"],
                message: `times MAX_MESSAGES_PER_TOPIC times MAX_MESSAGE_BYTES is ${worst} bytes, above the ${MEMORY_BUDGET_BYTES}-byte budget`,
            });
        }
    });

export type MessagesEnv = z.output<typeof messagesEnv>;

const topicParams = z.strictObject({
    topic: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "must be 1-63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit"),
});

export const messages: ServiceDefinition<MessagesEnv> = {
    name: "messages",
    routes(app, env) {
        const address = { ...env.STORE_URL, password: env.STORE_URL.password ?? env.STORE_PASSWORD };
        const store = new TopicStore(address, { maxTopics: env.MAX_TOPICS, maxPerTopic: env.MAX_MESSAGES_PER_TOPIC }, env.STORE_TIMEOUT_MS, app.log);
        // After the drain: every in-flight request has had its answer from the store.
        app.addHook("onClose", () => store.close());
        const publish = z.strictObject({ body: z.string().min(1, "must not be empty") });
        const query = z.strictObject({
            limit: z
                .string()
                .regex(/^[0-9]+$/, "must be a whole number")
                .transform(Number)
                .pipe(z.number().min(1, "must be at least 1").max(env.MAX_MESSAGES_PER_TOPIC, `must be at most ${env.MAX_MESSAGES_PER_TOPIC}`))
                .optional(),
        });

        app.post("/topics/:topic/messages", async (req, reply) => {
            const { topic } = parseInput(topicParams, req.params, "params");
            const { body } = parseInput(publish, req.body, "body");
            const bytes = Buffer.byteLength(body, "utf8");
            if (bytes > env.MAX_MESSAGE_BYTES) {
                throw new HttpError(413, "message_too_large", `body is ${bytes} bytes; the limit is ${env.MAX_MESSAGE_BYTES}`);
            }
            return reply.code(201).send(await store.publish(topic, body));
        });

        app.get("/topics/:topic/messages", async (req) => {
            const { topic } = parseInput(topicParams, req.params, "params");
            const { limit } = parseInput(query, req.query, "query");
            return { topic, messages: await store.recent(topic, limit ?? Math.min(20, env.MAX_MESSAGES_PER_TOPIC)) };
        });

        // Ready once the store answers, or after two connection attempts' time without it (then
        // it answers 503 until the store is back): readiness does not follow the store, since a
        // store outage would otherwise take every replica out of every load balancer at once.
        return async () => {
            const waitMs = 2 * env.STORE_TIMEOUT_MS;
            if (!(await store.connected(waitMs))) {
                app.log.warn({ waitedMs: waitMs }, "starting without the store; requests answer 503 store_unavailable until it is reachable");
            }
        };
    },
};
