/**
 * The one error shape every service answers with: `{ "error": "<code>", "message": "<text>" }`,
 * and the helper that turns a failed input check into a 400 of that shape.
 */
import type { z } from "zod";

/** The JSON body of every error response. */
export interface ErrorBody {
    /** Stable machine-readable code, e.g. `bad_request`, `upstream_timeout`. */
    error: string;
    /** Human-readable explanation. */
    message: string;
}

/** An error that maps to an HTTP status, an {@link ErrorBody} and response headers. */
export class HttpError extends Error {
    constructor(
        readonly statusCode: number,
        readonly code: string,
        message: string,
        /** Headers to send with the error, e.g. `{ "retry-after": "1" }` on a 503; default none. */
        readonly headers: Readonly<Record<string, string>> = {},
    ) {
        super(message);
        this.name = "HttpError";
    }

    /** The response body for this error. */
    body(): ErrorBody {
        return { error: this.code, message: this.message };
    }
}

/** Codes of the client errors fastify raises itself (bad JSON, body too large, wrong media type). */
const CLIENT_ERROR_CODES: Record<number, string> = {
    400: "bad_request",
    413: "payload_too_large",
    415: "unsupported_media_type",
};

/** The code for a 4xx that fastify raised (`client_error` for any other status). */
export function codeForClientError(status: number): string {
    return CLIENT_ERROR_CODES[status] ?? "client_error";
}

/**
 * Parses `value` (the request's `where`: body, query or params) with `schema`, or throws a 400
 * naming each bad field, e.g. `body.size: must be at most 1000000`.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: "body" | "query" | "params"): z.output<S> {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const problems = result.error.issues.map((issue) => `${[where, ...issue.path.map(String)].join(".")}: ${issue.message}`);
    throw new HttpError(400, "bad_request", problems.join("; "));
}
