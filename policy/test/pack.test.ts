import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { policies } from "../policies";
import { parsePackConfig, policySettings } from "../runner";

const POLICY_DIR = join(__dirname, "..", "policies");
const CONFIG_DIR = join(__dirname, "..", "config");

function loadConfig(stack: string) {
    const file = join(CONFIG_DIR, `${stack}.json`);
    return parsePackConfig(readFileSync(file, "utf8"), file, policies);
}

describe("the pack", () => {
    it("lists every policy module exactly once, under unique names", async () => {
        const modules = readdirSync(POLICY_DIR).filter((f) => f.endsWith(".ts") && f !== "index.ts");
        const exported: unknown[] = [];
        for (const file of modules) {
            const mod = (await import(join(POLICY_DIR, file))) as Record<string, unknown>;
            const own = Object.values(mod).filter((v) => typeof v === "object" && v !== null && "name" in v && "description" in v);
            expect(own, `${file} declares one policy`).toHaveLength(1);
            exported.push(...own);
        }
        expect(new Set(policies)).toEqual(new Set(exported));
        expect(new Set(policies.map((p) => p.name)).size).toBe(policies.length);
    });

    it.each(policies.map((p) => [p.name, p] as const))("%s is documented, leveled and its knobs have defaults", (_name, p) => {
        expect(p.description.length).toBeGreaterThan(20);
        expect(p.enforcementLevel).toBe("mandatory");
        expect(["low", "medium", "high", "critical"]).toContain(p.severity);
        for (const [knob, schema] of Object.entries(p.configSchema?.properties ?? {})) {
            const s = schema as PolicyConfigJSONSchema;
            expect(s.type, `${p.name}.${knob} type`).toBeDefined();
            expect(s.default, `${p.name}.${knob} default`).toBeDefined();
            expect(s.description, `${p.name}.${knob} description`).toBeDefined();
        }
    });
});

describe("docs/environments.md", () => {
    it("documents every policy and every knob", () => {
        const doc = readFileSync(join(__dirname, "..", "..", "docs", "environments.md"), "utf8");
        for (const p of policies) {
            const row = doc.split("\n").find((line) => line.startsWith(`| \`${p.name}\` |`));
            expect(row, p.name).toBeDefined();
            for (const knob of Object.keys(p.configSchema?.properties ?? {})) expect(row, `${p.name}.${knob}`).toContain(`\`${knob}\``);
        }
    });
});

describe("policy/config/<stack>.json", () => {
    it("makes every policy advisory in dev and mandatory in staging and prod", () => {
        const levels = (stack: string) => new Set(policies.map((p) => policySettings(p, loadConfig(stack)).enforcementLevel));
        expect(levels("dev")).toEqual(new Set(["advisory"]));
        expect(levels("staging")).toEqual(new Set(["mandatory"]));
        expect(levels("prod")).toEqual(new Set(["mandatory"]));
    });

    it("marks only prod as production, and lets only backend face the internet outside dev", () => {
        for (const stack of ["dev", "staging", "prod"]) {
            const config = loadConfig(stack);
            const knobs = (name: string) => policySettings({ name }, config).knobs;
            expect(knobs("k8s-public-services").publicServices).toEqual(stack === "dev" ? ["backend", "messages", "reports"] : ["backend"]);
            expect(knobs("k8s-production-min-replicas").production).toBe(stack === "prod");
            expect(knobs("eks-endpoint-access").production).toBe(stack === "prod");
            expect(knobs("elasticache-production-data").production).toBe(stack === "prod");
        }
    });
});
