import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { policies } from "../policies";
import { checkStack, parsePackConfig, parseSynth, policySettings, PolicyInputError, runPolicies, toPolicyResources } from "../runner";
import { FIXTURES } from "./util";

const ROOT = join(__dirname, "..", "..");
const fixtureFile = (name: string) => join(FIXTURES, `${name}.resources.json`);
const configFile = (stack: string) => join(ROOT, "policy", "config", `${stack}.json`);
const source = (file: string) => ({ text: readFileSync(file, "utf8"), source: file });

/** Every policy the broken fixture breaks, and nothing else. */
const BROKEN_POLICIES = [
    "aws-no-world-ingress", "ecr-immutable-tags", "eks-endpoint-access", "eks-nodegroup-imdsv2", "eks-secrets-encryption", "elasticache-encryption", "elasticache-production-data",
    "k8s-deployment-network-policy", "k8s-health-probes", "k8s-host-isolation", "k8s-no-replicas-under-hpa", "k8s-pdb-allows-disruption",
    "k8s-pinned-image", "k8s-production-min-replicas", "k8s-public-services", "k8s-restricted-security-context",
];

describe("checkStack", () => {
    it.each(["dev", "staging", "prod"])("finds nothing in the compliant fixture with the %s config", async (stack) => {
        const result = await checkStack({ policies, stack, resources: source(fixtureFile("compliant")), config: source(configFile(stack)) });
        expect(result.violations).toEqual([]);
        expect(result.blocking).toBe(false);
        expect(result.report).toContain("No policy violations in 29 resources.");
    });

    it("blocks the broken fixture in prod, one group per resource", async () => {
        const result = await checkStack({ policies, stack: "prod", resources: source(fixtureFile("broken")), config: source(configFile("prod")) });
        expect(result.blocking).toBe(true);
        expect([...new Set(result.violations.map((v) => v.policy))].sort()).toEqual(BROKEN_POLICIES);
        expect(result.violations.every((v) => v.enforcementLevel === "mandatory")).toBe(true);
        const lines = result.report.split("\n");
        expect(lines[0]).toMatch(/^Policy pack kubeforge \(22 policies\) on stack prod: .*broken\.resources\.json with .*prod\.json$/);
        const backend = lines.indexOf("backend-deployment (kubernetes:apps/v1:Deployment)");
        expect(backend).toBeGreaterThan(0);
        expect(lines.slice(backend + 1, backend + 5).every((l) => l.startsWith("  [mandatory, ") && l.includes("Deployment kubeforge/backend"))).toBe(true);
        expect(lines.at(-1)).toBe("16 mandatory and 0 advisory violation(s) in 10 resource(s): blocking.");
    });

    it("only advises in dev, where production-only policies do not apply", async () => {
        const result = await checkStack({ policies, stack: "dev", resources: source(fixtureFile("broken")), config: source(configFile("dev")) });
        expect(result.blocking).toBe(false);
        expect(result.violations.every((v) => v.enforcementLevel === "advisory")).toBe(true);
        const policiesFound = new Set(result.violations.map((v) => v.policy));
        expect(policiesFound.has("k8s-production-min-replicas")).toBe(false);
        expect(policiesFound.has("eks-endpoint-access")).toBe(false);
        expect(policiesFound.has("elasticache-production-data")).toBe(false);
        expect(policiesFound.size).toBe(BROKEN_POLICIES.length - 3);
    });
});

describe("pack config", () => {
    const parse = (config: object) => parsePackConfig(JSON.stringify(config), "x.json", policies);

    it("follows Pulumi's precedence: the policy's own level, then all, then the policy's default", () => {
        const p = { name: "k8s-pinned-image", enforcementLevel: "mandatory" as const };
        expect(policySettings(p, {}).enforcementLevel).toBe("mandatory");
        expect(policySettings(p, { all: "advisory" }).enforcementLevel).toBe("advisory");
        expect(policySettings(p, { all: "advisory", "k8s-pinned-image": "disabled" }).enforcementLevel).toBe("disabled");
        expect(policySettings(p, { all: "advisory", "k8s-pinned-image": { enforcementLevel: "mandatory" } }).enforcementLevel).toBe("mandatory");
        expect(policySettings({ name: "x" }, {}).enforcementLevel).toBe("advisory");
    });

    it("skips disabled policies", async () => {
        const broken = toPolicyResources(parseSynth(readFileSync(fixtureFile("broken"), "utf8"), "broken"), "prod");
        const found = await runPolicies(policies, broken, { "k8s-pinned-image": "disabled" });
        expect(found.some((v) => v.policy === "k8s-pinned-image")).toBe(false);
        expect(found.some((v) => v.policy === "k8s-health-probes")).toBe(true);
    });

    it("rejects unknown policies, levels and knobs with one line naming them", () => {
        expect(() => parse({ "k8s-pinned-images": "mandatory" })).toThrow(/^x\.json: k8s-pinned-images: is not a policy of the pack \(allowed: all, k8s-pinned-image, /);
        expect(() => parse({ all: "strict" })).toThrow('x.json: all: "strict" is not an enforcement level (allowed: advisory, mandatory, remediate, disabled)');
        expect(() => parse({ "k8s-public-services": { publicService: [] } })).toThrow("x.json: k8s-public-services.publicService: is not a setting of this policy (allowed: enforcementLevel, publicServices)");
        expect(() => parse({ "k8s-public-services": { enforcementLevel: "hard" } })).toThrow(PolicyInputError);
    });
});

describe("synth input", () => {
    it("rejects files that are not the synth format", () => {
        expect(() => parseSynth("{", "r.json")).toThrow(/^r\.json: is not valid JSON/);
        expect(() => parseSynth("{}", "r.json")).toThrow("r.json: expected an array of {type, name, parent, inputs}");
        expect(() => parseSynth('[{"type": "t"}]', "r.json")).toThrow("r.json: entry [0] is not {type: string, name: string, parent: string|null, inputs: object}");
    });

    it("builds URNs through the parent chain", () => {
        const [component, child] = toPolicyResources([
            { type: "kubeforge:index:Microservice", name: "backend", parent: null, inputs: {} },
            { type: "kubernetes:apps/v1:Deployment", name: "backend-deployment", parent: "backend", inputs: {} },
        ], "dev");
        expect(component?.urn).toBe("urn:pulumi:dev::kubeforge::kubeforge:index:Microservice::backend");
        expect(child?.urn).toBe("urn:pulumi:dev::kubeforge::kubeforge:index:Microservice$kubernetes:apps/v1:Deployment::backend-deployment");
        expect(child?.parent).toBe(component);
    });
});

describe("npm run policy", () => {
    // As `npm run policy` from the project root: npm sets INIT_CWD to where it was started.
    const run = (...args: string[]) => spawnSync(join(ROOT, "node_modules", ".bin", "tsx"), ["scripts/policy.ts", ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, INIT_CWD: ROOT } });

    it("exits 1 on a mandatory violation and 0 on a compliant stack", () => {
        const broken = run("prod", "--resources", "policy/test/fixtures/broken.resources.json");
        expect(broken.status).toBe(1);
        expect(broken.stdout).toContain("[mandatory, high] k8s-pinned-image: Deployment kubeforge/backend");
        const ok = run("prod", "--resources", "policy/test/fixtures/compliant.resources.json");
        expect(ok.status).toBe(0);
        expect(ok.stdout).toContain("No policy violations");
    });

    it("exits 2 with one line on bad usage, a missing file or a stack without policy config", () => {
        const usage = run();
        expect(usage.status).toBe(2);
        expect(usage.stderr.trim()).toBe("usage: npm run policy -- <stack> [--resources FILE]");
        const missing = run("prod", "--resources", "nope.json");
        expect(missing.status).toBe(2);
        expect(missing.stderr.trim()).toBe(`--resources nope.json: cannot be read (${join(ROOT, "nope.json")}: no such file); give a path relative to the directory you ran the command in, or an absolute one`);
        const noConfig = run("qa", "--resources", "policy/test/fixtures/compliant.resources.json");
        expect(noConfig.stderr.trim()).toBe("policy/config/qa.json: cannot be read");
    });
});
