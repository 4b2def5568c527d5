/**
 * .github/workflows/e2e.yml cannot run here (no Docker engine, no Pulumi CLI): its structure is
 * checked instead, so that a broken edit fails in CI rather than on the next nightly run. Its
 * triggers, the pinned kind (and its checksum check) and Pulumi CLI, the steps in order, the
 * `--expect-no-changes` preview, and the leftover check after `pulumi destroy`.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KIND_RELEASE, kindClusterName } from "../components/cluster/kind/config";
import { PROJECT_ROOT, readProjectFile } from "../scripts/stack-files";

interface Step {
    name?: string;
    uses?: string;
    run?: string;
    if?: string;
    with?: Record<string, unknown>;
}
interface Workflow {
    on: Record<string, unknown>;
    permissions: Record<string, string>;
    jobs: Record<string, { "runs-on": string; env: Record<string, string>; steps: Step[]; "timeout-minutes"?: number }>;
}

const TEXT = readFileSync(join(PROJECT_ROOT, ".github", "workflows", "e2e.yml"), "utf8");
const WORKFLOW = parse(TEXT) as Workflow;
const JOB = Object.values(WORKFLOW.jobs)[0]!;
const STEPS = JOB.steps;

/** Index of the one step whose `run` matches, or whose `uses` starts with, `what`. */
function step(what: RegExp | string): number {
    const found = STEPS.flatMap((s, i) => (typeof what === "string" ? s.uses?.startsWith(what) : what.test(s.run ?? "")) ? [i] : []);
    expect(found, `one step for ${String(what)}`).toHaveLength(1);
    return found[0]!;
}

describe("the e2e workflow", () => {
    it("says in its header that it cannot run on our machines", () => {
        const header = TEXT.slice(0, TEXT.indexOf("\nname:"));
        expect(header).toMatch(/cannot run on our own machines: they have no Docker engine, no Pulumi CLI/);
    });

    it("runs on pushes to main, nightly and by hand, with read-only permissions, in one Ubuntu job", () => {
        expect(WORKFLOW.on).toEqual({ push: { branches: ["main"] }, schedule: [{ cron: expect.stringMatching(/^[0-9]+ [0-9]+ \* \* \*$/) }], workflow_dispatch: null });
        expect(WORKFLOW.permissions).toEqual({ contents: "read" });
        expect(Object.keys(WORKFLOW.jobs)).toHaveLength(1);
        expect(JOB["runs-on"]).toBe("ubuntu-latest");
        expect(JOB["timeout-minutes"]).toBeGreaterThan(0);
    });

    it("gives the local backend a passphrase and names the kind cluster the program creates", () => {
        expect(JOB.env.PULUMI_CONFIG_PASSPHRASE).toMatch(/^\S+$/);
        expect(JOB.env.CLUSTER).toBe(kindClusterName(readProjectFile().name, "dev"));
    });

    it("installs the kind release the program is pinned to, checked against the pinned digest and the release's .sha256sum", () => {
        expect(JOB.env.KIND_VERSION).toBe(`v${KIND_RELEASE}`);
        expect(JOB.env.KIND_SHA256).toMatch(/^[0-9a-f]{64}$/);
        const run = STEPS[step(/kind-linux-amd64\.sha256sum/)]!.run!;
        expect(run).toContain("releases/download/${KIND_VERSION}");
        expect(run).toMatch(/"\$\{published\}" != "\$\{KIND_SHA256\}"/);
        expect(run).toContain('echo "${KIND_SHA256}  ${RUNNER_TEMP}/kind" | sha256sum --check');
    });

    it("uses the actions (and versions) the other workflows use, and the Pulumi CLI of the locked SDK", () => {
        const preview = parse(readFileSync(join(PROJECT_ROOT, ".github", "workflows", "preview.yml"), "utf8")) as { jobs: Record<string, { steps?: { uses?: string }[] }> };
        const pinned = new Set(Object.values(preview.jobs).flatMap((j) => (j.steps ?? []).flatMap((st) => (st.uses ? [st.uses] : []))));
        for (const action of ["actions/checkout@", "actions/setup-node@", "pulumi/actions@"]) {
            expect(pinned, action).toContain(STEPS[step(action)]!.uses);
        }
        expect(STEPS[step("actions/checkout@")]).toMatchObject({ with: { "persist-credentials": false } });
        expect(STEPS[step("actions/setup-node@")]).toMatchObject({ with: { "node-version-file": ".node-version" } });
        const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };
        expect(STEPS[step("pulumi/actions@")]!.with).toEqual({ "pulumi-version": lock.packages["node_modules/@pulumi/pulumi"]!.version });
    });

    it("runs the steps in order: install, login, up, smoke, load, preview --expect-no-changes, destroy, leftover check", () => {
        const order = [
            step("actions/checkout@"),
            step("actions/setup-node@"),
            step(/kind-linux-amd64\.sha256sum/),
            step("pulumi/actions@"),
            step(/^npm ci$/m),
            step(/^pulumi login --local$/m),
            step(/^npm run up -- dev --yes --non-interactive$/m),
            step(/^npm run smoke -- dev$/m),
            step(/npm run --silent load -- "\$\{reports\}\/reports\/[0-9]+-[0-9]+" --seconds 60 /),
            step(/kubectl delete pod -n "\$\{namespace\}" store-0/),
            step(/^pulumi preview -s dev --expect-no-changes\b/m),
            step(/^pulumi destroy -s dev --yes\b/m),
            step(/kubectl config get-contexts/),
        ];
        expect([...order].sort((a, b) => a - b)).toEqual(order);
        // Every step after checkout runs only when the ones before succeeded, but the failure report.
        expect(STEPS.filter((s) => s.if !== undefined)).toEqual([expect.objectContaining({ if: "failure()" })]);
    });

    it("asserts that reports' HPA grows under load while backend's and messages' stay at their minimum", () => {
        const run = STEPS[step(/npm run --silent load --/)]!.run!;
        expect(run).toContain("kubectl get hpa -n \"${namespace}\" -o json");
        expect(run).toMatch(/poll [0-9]+ --steady backend,messages,reports\n\s*npm run --silent load/);
        expect(run).toMatch(/poll [0-9]+ --grows reports --steady backend,messages\n\s*wait "\$\{load\}"\n\s*hpas --grows reports --steady backend,messages/);
    });

    it("restarts the store's pod and reads back through messages what was published before it", () => {
        // components/store/valkey.ts: the StatefulSet `store` (one pod, store-0), its data on a claim.
        const run = STEPS[step(/kubectl delete pod -n "\$\{namespace\}" store-0/)]!.run!;
        expect(run).toMatch(/publish "before the restart"\n\s*kubectl delete pod/);
        expect(run).toContain('kubectl wait -n "${namespace}" --for=condition=Ready pod/store-0');
        expect(run).toContain(`'["before the restart","after the restart"]'`);
    });

    it("goes up the way the README's quick start does: npm run up on a stack that does not exist yet", () => {
        // scripts/up.ts: the doctor, then `pulumi stack select --create <stack>`, then `pulumi up`.
        const all = STEPS.map((s) => s.run ?? "").join("\n");
        expect(all).not.toMatch(/pulumi stack select/);
        expect(all).not.toMatch(/^pulumi up\b/m);
    });

    it("checks that no container, network, volume, state dir or kubeconfig context of the stack is left", () => {
        const run = STEPS[step(/kubectl config get-contexts/)]!.run!;
        // kubernetes-sigs/kind v0.32.0 pkg/cluster/internal/providers/docker: nodes carry io.x-k8s.kind.cluster;
        // kubernetes-sigs/cloud-provider-kind v0.11.1 pkg/constants/constants.go NodeCCMLabelKey labels its envoys.
        for (const filter of ["label=io.x-k8s.kind.cluster=${CLUSTER}", "label=io.x-k8s.cloud-provider-kind.cluster=${CLUSTER}", "name=${CLUSTER}"]) expect(run).toContain(`"${filter}"`);
        expect(run).toContain('docker ps -a -q --filter "${filter}"');
        expect(run).toContain("docker network ls --format '{{.Name}}'");
        expect(run).toContain('comm -13 "${RUNNER_TEMP}/volumes-before" "${RUNNER_TEMP}/volumes-after"');
        expect(run).toContain('[ -e "${HOME}/.kubeforge" ]');
        expect(run).toContain('grep -qx "kind-${CLUSTER}"');
        expect(run).toMatch(/exit "\$\{left\}"\s*$/);
    });

    it("has run scripts bash can parse", () => {
        for (const s of STEPS.filter((x) => x.run !== undefined)) {
            expect(() => execFileSync("bash", ["-n", "-c", s.run!], { stdio: "pipe" }), s.name ?? s.run).not.toThrow();
            expect(s.run, "no ${{ }} expressions in scripts: environment variables only").not.toContain("${{");
        }
    });
});
