/**
 * Configuration from the environment, validated with zod. A bad environment becomes ONE line
 * naming every bad variable, its value and what is allowed, e.g.
 * `invalid environment: PORT="http" is not a whole number; MESSAGES_URL is required`.
 */
import { z } from "zod";

/** Variables whose values are secrets: a problem with one names it but never shows its value. */
const SECRET_NAME = /(PASSWORD|SECRET|TOKEN)$/;

/**
 * How a variable's value appears in a problem line: as it is (JSON-quoted), `(hidden)` for a
 * secret-named variable, and a URL with the password of its userinfo replaced by `***` (a store
 * URL may carry one), so the line that reports a bad environment never leaks a credential.
 */
export function shownValue(name: string, value: string): string {
    if (SECRET_NAME.test(name)) return "(hidden)";
    // Everything between `scheme://user:` and the last `@` is the password, even when it holds
    // characters a URL would need escaped.
    const start = value.indexOf("://");
    const at = value.lastIndexOf("@");
    const colon = start < 0 ? -1 : value.indexOf(":", start + 3);
    if (start < 0 || at < 0 || colon < 0 || colon > at) return JSON.stringify(value);
    return JSON.stringify(`${value.slice(0, colon + 1)}***${value.slice(at)}`);
}

/** Raised for an invalid environment; the message is the one line to print. */
export class EnvError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid environment: ${problems.join("; ")}`);
        this.name = "EnvError";
    }
}

/** A whole number between `min` and `max` (inclusive), `fallback` when the variable is unset. */
export function intVar(min: number, max: number, fallback: number) {
    return z
        .string()
        .regex(/^[0-9]+$/, "is not a whole number")
        .transform(Number)
        .pipe(z.number().min(min, `is below ${min}`).max(max, `is above ${max}`))
        .prefault(String(fallback));
}

/** An absolute http(s) URL, required. */
export function urlVar() {
    return z.url({ protocol: /^https?$/, error: "is not an http(s) URL (e.g. http://messages.kubeforge.svc.cluster.local:8080)" });
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** What every service reads: where to listen, how much to log, how long to drain, body size cap. */
export const baseEnv = z.object({
    /** Port of the API and the probes; default 8080. 0 picks a free port (tests). */
    PORT: intVar(0, 65535, 8080),
    /**
     * Port of `/metrics`, a listener of its own so the scrape is not reachable through the public
     * load balancer (which forwards only PORT); default 9464. 0 picks a free port (tests).
     */
    METRICS_PORT: intVar(0, 65535, 9464),
    /** Address to bind; default all interfaces. */
    HOST: z.string().min(1, "must not be empty").default("0.0.0.0"),
    /** pino level; default info. */
    LOG_LEVEL: z.enum(LOG_LEVELS, { error: `is not one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    /**
     * After SIGTERM, how long in-flight requests may take before the remaining connections are
     * closed; default 10000 ms, at most 20000. The pod's grace period is its preStop sleep + 30 s
     * and SIGTERM comes after the preStop sleep, so the process has 30 s: at most 20 s of drain
     * leaves 10 s to close the metrics listener and exit before the kubelet's SIGKILL.
     */
    SHUTDOWN_TIMEOUT_MS: intVar(100, 20_000, 10_000),
    /** Largest accepted request body; default 65536 bytes (64 KiB). */
    BODY_LIMIT_BYTES: intVar(64, 1_048_576, 65_536),
});

/** The validated base settings. */
export type BaseEnv = z.output<typeof baseEnv>;

/** The API and `/metrics` need a port each (0 is "any free port" and may repeat). */
function distinctPorts(env: BaseEnv, ctx: z.RefinementCtx<BaseEnv>): void {
    if (env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
        ctx.addIssue({ code: "custom", path: ["METRICS_PORT"], message: `is the same as PORT (${env.PORT}); /metrics needs a port of its own` });
    }
}

/**
 * Validates `env` (default `process.env`) against `schema`; throws {@link EnvError} listing every
 * bad variable.
 */
export function loadEnv<S extends z.ZodType<BaseEnv, Record<string, string | undefined>>>(
    schema: S,
    env: Record<string, string | undefined> = process.env,
): z.output<S> {
    const result = schema.superRefine(distinctPorts).safeParse(env);
    if (result.success) return result.data;
    const problems = result.error.issues.map((issue) => {
        const name = issue.path.map(String).join(".");
        const value = env[name];
        if (value !== undefined) return `${name}=${shownValue(name, value)} ${issue.message}`;
        // Unset: missing if it has no default, else its default broke a rule across variables.
        return issue.code === "invalid_type" ? `${name} is required` : `${name} ${issue.message}`;
    });
    throw new EnvError(problems);
}
