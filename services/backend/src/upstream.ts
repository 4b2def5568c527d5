/**
 * Calls to another service with a deadline. Every failure becomes an {@link HttpError} with the
 * kit's error shape: 504 when the upstream does not answer in time; 503 with the upstream's
 * `Retry-After` when it answers 503 (it is shedding load: the client should retry later, not
 * treat it as broken); 502 when it cannot be reached, answers another 5xx, or answers something
 * that is not JSON. Its 4xx answers (client errors in what we forwarded) pass through unchanged.
 */
import { type ErrorBody, HttpError } from "@kubeforge/service-kit";
import { z } from "zod";

/** What an upstream answered: status below 500 and a JSON body. */
export interface UpstreamResponse {
    status: number;
    body: unknown;
}

/** One upstream service, e.g. `new Upstream("messages", env.MESSAGES_URL, env.UPSTREAM_TIMEOUT_MS)`. */
export class Upstream {
    constructor(
        /** Service name, used in error messages. */
        readonly name: string,
        /** Base URL, e.g. `http://messages.kubeforge.svc.cluster.local:8080`. */
        readonly baseUrl: string,
        /** Deadline of one call, connecting through reading the whole body, in milliseconds. */
        readonly timeoutMs: number,
    ) {}

    /** `method path` with an optional JSON body; `requestId` is forwarded as `x-request-id`. */
    async call(method: "GET" | "POST", path: string, options: { body?: unknown; requestId?: string } = {}): Promise<UpstreamResponse> {
        const headers: Record<string, string> = { accept: "application/json" };
        if (options.requestId) headers["x-request-id"] = options.requestId;
        if (options.body !== undefined) headers["content-type"] = "application/json";
        let status: number;
        let text: string;
        let retryAfter: string | null;
        try {
            const response = await fetch(new URL(path, this.baseUrl), {
                method,
                headers,
                body: options.body === undefined ? undefined : JSON.stringify(options.body),
                signal: AbortSignal.timeout(this.timeoutMs),
            });
            status = response.status;
            retryAfter = response.headers.get("retry-after");
            text = await response.text();
        } catch (error) {
            if (error instanceof Error && error.name === "TimeoutError") {
                throw new HttpError(504, "upstream_timeout", `${this.name} did not answer within ${this.timeoutMs} ms`);
            }
            throw new HttpError(502, "upstream_unreachable", `${this.name} is unreachable: ${describe(error)}`);
        }
        if (status === 503) {
            const headers: Record<string, string> = retryAfter === null ? {} : { "retry-after": retryAfter };
            const shed = errorBody(text);
            throw shed
                ? new HttpError(503, shed.error, shed.message, headers)
                : new HttpError(503, "upstream_unavailable", `${this.name} answered 503`, headers);
        }
        if (status >= 500) throw new HttpError(502, "upstream_error", `${this.name} answered ${status}`);
        try {
            return { status, body: JSON.parse(text) };
        } catch {
            throw new HttpError(502, "upstream_bad_response", `${this.name} answered ${status} with a body that is not JSON`);
        }
    }
}

const errorShape = z.object({ error: z.string().min(1), message: z.string() });

/** `text` as the kit's error body, or undefined when it is not one. */
function errorBody(text: string): ErrorBody | undefined {
    try {
        const parsed = errorShape.safeParse(JSON.parse(text));
        return parsed.success ? { error: parsed.data.error, message: parsed.data.message } : undefined;
    } catch {
        return undefined;
    }
}

/** The most specific reason fetch gives (its `cause`, e.g. `connect ECONNREFUSED 127.0.0.1:9`). */
function describe(error: unknown): string {
    const cause = error instanceof Error ? error.cause : undefined;
    if (cause instanceof Error) return cause.message || cause.name;
    return error instanceof Error ? error.message : String(error);
}
