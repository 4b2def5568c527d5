/**
 * In-memory topics with bounded memory: at most `maxTopics` topics, each keeping only its
 * `maxPerTopic` most recent messages (older ones are dropped as new ones arrive).
 */
import { HttpError } from "@kubeforge/service-kit";

/** One published message. */
export interface Message {
    /** Position in its topic, from 1. */
    seq: number;
    /** Topic it was published to. */
    topic: string;
    /** The text published. */
    body: string;
    /** When it was published (ISO 8601). */
    publishedAt: string;
}

export class TopicStore {
    private readonly topics = new Map<string, { next: number; messages: Message[] }>();

    constructor(
        private readonly maxTopics: number,
        private readonly maxPerTopic: number,
    ) {}

    /** Appends `body` to `topic`; a new topic past the topic cap is refused with a 429. */
    publish(topic: string, body: string, now = new Date()): Message {
        let entry = this.topics.get(topic);
        if (!entry) {
            if (this.topics.size >= this.maxTopics) {
                throw new HttpError(429, "too_many_topics", `topic limit reached (${this.maxTopics}); publish to an existing topic`);
            }
            entry = { next: 1, messages: [] };
            this.topics.set(topic, entry);
        }
        const message: Message = { seq: entry.next++, topic, body, publishedAt: now.toISOString() };
        entry.messages.push(message);
        if (entry.messages.length > this.maxPerTopic) entry.messages.shift();
        return message;
    }

    /** The `limit` most recent messages of `topic`, oldest first; none for an unknown topic. */
    recent(topic: string, limit: number): Message[] {
        const messages = this.topics.get(topic)?.messages ?? [];
        return messages.slice(Math.max(0, messages.length - limit));
    }
}
