import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { PROJECT_ROOT } from "../scripts/stack-files";
import { validateK8s } from "./validate";

const run = promisify(execFile);
const tsx = join(PROJECT_ROOT, "node_modules", ".bin", "tsx");

/** Run tsx in the project root; never throws. */
async function tsxRun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
        const { stdout, stderr } = await run(tsx, args, { cwd: PROJECT_ROOT });
        return { code: 0, stdout, stderr };
    } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
}

/** Run `npm run synth -- ...args` as a user would (without npm's banner); never throws. */
function synth(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return tsxRun(["scripts/synth.ts", ...args]);
}

describe("npm run synth", () => {
    it("writes resources.json and kubernetes.yaml for dev, every object valid", async () => {
        const result = await synth("dev");
        expect(result.stderr).toBe("");
        expect(result.code).toBe(0);
        const dir = join(PROJECT_ROOT, "synth", "dev");
        const resources = JSON.parse(readFileSync(join(dir, "resources.json"), "utf8")) as { type: string; name: string; parent: string | null; inputs: object }[];
        expect(resources.length).toBeGreaterThan(20);
        for (const r of resources) {
            expect(Object.keys(r)).toEqual(expect.arrayContaining(["type", "name", "parent", "inputs"]));
        }
        const byName = new Map(resources.map((r) => [r.name, r]));
        // Parents are logical names of resources that come earlier in registration order.
        for (const r of resources.filter((x) => x.parent !== null)) expect(byName.has(r.parent!)).toBe(true);

        const docs = parseAllDocuments(readFileSync(join(dir, "kubernetes.yaml"), "utf8")).map((d) => d.toJS() as Record<string, unknown>);
        const kinds = docs.map((d) => d.kind);
        for (const kind of ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount"]) {
            expect(kinds.filter((k) => k === kind).length).toBeGreaterThanOrEqual(3);
        }
        expect(kinds).not.toContain("Release");
        for (const doc of docs) {
            expect(doc.metadata).toMatchObject({ name: expect.any(String) });
            validateK8s(doc);
        }
    });

    it("exits non-zero with one line naming the key when the stack config is invalid", async () => {
        const file = join(mkdtempSync(join(tmpdir(), "kubeforge-synth-")), "Pulumi.broken.yaml");
        writeFileSync(file, "config:\n  kubeforge:services:\n    backend:\n      replicas:\n        min: 3\n        max: 2\n");
        const result = await synth("broken", "--stack-file", file);
        expect(result.code).toBe(1);
        expect(result.stderr.trim()).toBe("kubeforge:services.backend.replicas.max: 2 is below min 3");
    });

    it("fails with one line, writing nothing, when a value feeding a resource's inputs throws under mocks", async () => {
        // The Pulumi CLI fails such a run (@pulumi/pulumi 3.270 cmd/run/index.js exits non-zero after
        // any uncaught error); synth used to exit 0 with the resource the value fed silently missing.
        const file = join(mkdtempSync(join(tmpdir(), "kubeforge-synth-")), "Pulumi.raising.yaml");
        writeFileSync(file, "config: {}\n");
        const out = join(PROJECT_ROOT, "synth", "raising");
        try {
            const entry = `require("./scripts/synth").cli(["raising", "--stack-file", ${JSON.stringify(file)}], () => import("./test/programs/raises-in-apply"))`;
            const result = await tsxRun(["-e", entry]);
            expect(result.stderr.trim().split("\n")).toEqual([
                "the program failed under Pulumi mocks (a real preview fails too; what the failing value fed was never declared): " +
                `error serializing property "spec": the network has no IPv4 subnet (fc00:f853:ccd:e793::/64) (test/programs/raises-in-apply.ts:13)`,
            ]);
            expect(result.code).toBe(1);
            expect(existsSync(out)).toBe(false);
        } finally {
            rmSync(out, { recursive: true, force: true });
        }
    });

    it("names a missing stack file", async () => {
        const result = await synth("nosuchstack");
        expect(result.code).toBe(2);
        expect(result.stderr).toContain("Pulumi.nosuchstack.yaml");
    });
});
