import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EnvError, baseEnv, intVar, loadEnv, shownValue, urlVar } from "../src";

const schema = baseEnv.extend({ UPSTREAM_URL: urlVar(), RETRIES: intVar(0, 5, 2) });

function problemLine(env: Record<string, string>): string {
    try {
        loadEnv(schema, env);
    } catch (error) {
        expect(error).toBeInstanceOf(EnvError);
        return (error as EnvError).message;
    }
    throw new Error("expected an EnvError");
}

describe("loadEnv", () => {
    it("applies the documented defaults", () => {
        expect(loadEnv(schema, { UPSTREAM_URL: "http://messages.kubeforge.svc.cluster.local:80" })).toEqual({
            PORT: 8080,
            METRICS_PORT: 9464,
            HOST: "0.0.0.0",
            LOG_LEVEL: "info",
            SHUTDOWN_TIMEOUT_MS: 10_000,
            BODY_LIMIT_BYTES: 65_536,
            UPSTREAM_URL: "http://messages.kubeforge.svc.cluster.local:80",
            RETRIES: 2,
        });
    });

    it("parses whole numbers within bounds", () => {
        const env = loadEnv(schema, { UPSTREAM_URL: "https://x.example", PORT: "9090", RETRIES: "0", SHUTDOWN_TIMEOUT_MS: "20000" });
        expect([env.PORT, env.RETRIES, env.SHUTDOWN_TIMEOUT_MS]).toEqual([9090, 0, 20_000]);
    });

    it("reports every bad variable, its value and the rule, on one line", () => {
        const line = problemLine({ PORT: "http", LOG_LEVEL: "loud", RETRIES: "6", SHUTDOWN_TIMEOUT_MS: "25000" });
        expect(line).not.toContain("\n");
        expect(line).toBe(
            'invalid environment: PORT="http" is not a whole number; LOG_LEVEL="loud" is not one of fatal, error, warn, info, debug, trace, silent; ' +
                'SHUTDOWN_TIMEOUT_MS="25000" is above 20000; UPSTREAM_URL is required; RETRIES="6" is above 5',
        );
    });

    it.each([
        ["ftp://x.example", "is not an http(s) URL"],
        ["messages:80", "is not an http(s) URL"],
        ["", "is not an http(s) URL"],
    ])("rejects the URL %j", (value, rule) => {
        expect(problemLine({ UPSTREAM_URL: value })).toContain(`UPSTREAM_URL=${JSON.stringify(value)} ${rule}`);
    });

    it.each(["-1", "1.5", "8080 ", "", "0x10"])("rejects %j as a port", (value) => {
        expect(problemLine({ UPSTREAM_URL: "http://x", PORT: value })).toContain(`PORT=${JSON.stringify(value)} is not a whole number`);
        expect(problemLine({ UPSTREAM_URL: "http://x", METRICS_PORT: value })).toBe(`invalid environment: METRICS_PORT=${JSON.stringify(value)} is not a whole number`);
    });

    it("rejects a METRICS_PORT out of range", () => {
        expect(problemLine({ UPSTREAM_URL: "http://x", METRICS_PORT: "65536" })).toBe('invalid environment: METRICS_PORT="65536" is above 65535');
    });

    it("rejects METRICS_PORT equal to PORT, also when both are defaulted to the same value", () => {
        expect(problemLine({ UPSTREAM_URL: "http://x", PORT: "9464" })).toBe('invalid environment: METRICS_PORT is the same as PORT (9464); /metrics needs a port of its own');
        expect(problemLine({ UPSTREAM_URL: "http://x", PORT: "9000", METRICS_PORT: "9000" })).toBe(
            'invalid environment: METRICS_PORT="9000" is the same as PORT (9000); /metrics needs a port of its own',
        );
        expect(loadEnv(schema, { UPSTREAM_URL: "http://x", PORT: "0", METRICS_PORT: "0" })).toMatchObject({ PORT: 0, METRICS_PORT: 0 });
    });

    it("names the variable of a cross-field rule", () => {
        const refined = baseEnv.extend({ A: intVar(0, 10, 1), B: intVar(0, 10, 1) }).superRefine((env, ctx) => {
            if (env.A > env.B) ctx.addIssue({ code: "custom", path: ["A"], message: "is above B" });
        });
        expect(() => loadEnv(refined, { A: "3", B: "2" })).toThrow('invalid environment: A="3" is above B');
        expect(loadEnv(refined, { A: "2", B: "3" }).A).toBe(2);
    });

    it("never shows a secret in a problem line", () => {
        const secret = baseEnv.extend({ DB_PASSWORD: z.string().min(8, "is shorter than 8 characters"), DB_URL: urlVar() });
        const line = (() => {
            try {
                loadEnv(secret, { DB_PASSWORD: "hunter2", DB_URL: "ftp://admin:hunter2@db:21" });
            } catch (error) {
                return (error as EnvError).message;
            }
            return "";
        })();
        expect(line).toBe('invalid environment: DB_PASSWORD=(hidden) is shorter than 8 characters; DB_URL="ftp://admin:***@db:21" is not an http(s) URL (e.g. http://messages.kubeforge.svc.cluster.local:8080)');
    });
});

describe("shownValue", () => {
    it.each([
        ["STORE_URL", "redis://store:6379", '"redis://store:6379"'],
        ["STORE_URL", "rediss://default:p@ss/w:rd@store:6379/0", '"rediss://default:***@store:6379/0"'],
        ["STORE_URL", "redis://:secret@store", '"redis://:***@store"'],
        ["STORE_URL", "redis://user@store:6379", '"redis://user@store:6379"'],
        ["API_TOKEN", "abc", "(hidden)"],
        ["STORE_PASSWORD", "", "(hidden)"],
    ])("shows %s=%j as %s", (name, value, shown) => {
        expect(shownValue(name, value)).toBe(shown);
    });
});
