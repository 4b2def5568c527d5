/**
 * messages: publish to a named topic, read a topic's recent messages. Memory is bounded: a cap on
 * the number of topics (429 past it), on messages kept per topic (oldest dropped) and on the size
 * of one message (413 past it).
 *
 * - `POST /topics/:topic/messages` `{ "body": "<text>" }` -> 201 with the {@link Message}
 * - `GET /topics/:topic/messages?limit=<n>` -> 200 `{ "topic", "messages": [...] }`, oldest first
 */
import { HttpError, baseEnv, intVar, parseInput, type ServiceDefinition } from "@kubeforge/service-kit";
import { z } from "zod";
import { TopicStore } from "./store";

/** Worst-case message memory the caps may add up to (UTF-8 bytes of bodies). */
export const MEMORY_BUDGET_BYTES = 64 * 1024 * 1024;

/** messages' environment: the base settings plus the three caps that bound its memory. */
export const messagesEnv = baseEnv
    .extend({
        /** Most topics kept; default 100. */
        MAX_TOPICS: intVar(1, 100_000, 100),
        /** Most recent messages kept per topic; default 100. */
        MAX_MESSAGES_PER_TOPIC: intVar(1, 100_000, 100),
        /** Largest message body in UTF-8 bytes; default 4096. */
        MAX_MESSAGE_BYTES: intVar(1, 1_048_576, 4096),
    })
    .superRefine((env, ctx) => {
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
        const store = new TopicStore(env.MAX_TOPICS, env.MAX_MESSAGES_PER_TOPIC);
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
            return reply.code(201).send(store.publish(topic, body));
        });

        app.get("/topics/:topic/messages", async (req) => {
            const { topic } = parseInput(topicParams, req.params, "params");
            const { limit } = parseInput(query, req.query, "query");
            return { topic, messages: store.recent(topic, limit ?? Math.min(20, env.MAX_MESSAGES_PER_TOPIC)) };
        });
    },
};
