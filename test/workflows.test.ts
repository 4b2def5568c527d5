/**
 * The GitHub workflows (.github/workflows/*.yml), read the way GitHub reads them: validated with
 * GitHub's workflow parser (@actions/workflow-parser, the schema of the Actions language
 * service, which also checks which contexts each key may use) and their expressions evaluated with
 * GitHub's expression engine (@actions/expressions). What only GitHub and AWS can show (the OIDC
 * subjects, the environment rules, the runners' network) is in docs/environments.md and not run
 * here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Evaluator, Lexer, Parser, data } from "@actions/expressions";
import { NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../scripts/stack-files";

interface Step {
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
}
interface Job {
    "runs-on": string;
    environment?: string;
    permissions?: Record<string, string>;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    strategy?: { matrix: { include?: Record<string, string>[]; [key: string]: unknown } };
    steps?: Step[];
}
interface Workflow {
    on: Record<string, unknown>;
    permissions?: Record<string, string>;
    concurrency?: unknown;
    jobs: Record<string, Job>;
}

const DIR = join(PROJECT_ROOT, ".github", "workflows");
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".yml")).sort();
const text = (file: string) => readFileSync(join(DIR, file), "utf8");
const workflow = (file: string) => parse(text(file)) as Workflow;

type Contexts = Record<string, Record<string, string>>;

/** One expression evaluated by @actions/expressions with the given contexts (an unset variable is the empty string, as on GitHub). */
function evaluateExpression(source: string, contexts: Contexts): data.ExpressionData {
    const expr = new Parser(new Lexer(source).lex().tokens, Object.keys(contexts), []).parse();
    return new Evaluator(expr, JSON.parse(JSON.stringify(contexts), data.reviver) as data.Dictionary).evaluate();
}

/**
 * A workflow value as GitHub evaluates it: a value that is one `${{ expr }}` becomes the
 * expression's value; `${{ }}` inside a longer string is replaced by the value as a string.
 */
function evaluate(value: string, contexts: Contexts): unknown {
    const whole = /^\$\{\{((?:(?!\}\}).)*)\}\}$/s.exec(value.trim());
    if (whole) return JSON.parse(JSON.stringify(evaluateExpression(whole[1] ?? "", contexts), data.replacer)) as unknown;
    return value.replace(/\$\{\{((?:(?!\}\}).)*)\}\}/gs, (_, source: string) => evaluateExpression(source, contexts).coerceString());
}

/** The rows of a job's matrix (one empty row without a matrix), each value evaluated with `vars`. */
function matrixRows(job: Job, vars: Record<string, string>): Record<string, string>[] {
    const matrix = job.strategy?.matrix;
    if (matrix === undefined) return [{}];
    if (matrix.include !== undefined) return matrix.include.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(evaluate(v, { vars }))])));
    const [key, values] = Object.entries(matrix)[0] as [string, string[]];
    return values.map((v) => ({ [key]: v }));
}

const stepsUsing = (job: Job, action: string) => (job.steps ?? []).filter((s) => s.uses?.startsWith(`${action}@`));
const pulumiSteps = (job: Job) => stepsUsing(job, "pulumi/actions").filter((s) => s.with?.command !== undefined);
const allJobs = () => FILES.flatMap((file) => Object.entries(workflow(file).jobs).map(([id, job]) => ({ file, id, job })));

/** Jobs that run a Pulumi command against a stack, so talk to its cluster, with the stack each matrix row targets. */
function clusterJobs(vars: Record<string, string> = {}) {
    return allJobs().flatMap(({ file, id, job }) =>
        pulumiSteps(job).flatMap((step) =>
            matrixRows(job, vars).map((matrix) => ({ file, id, job, step, matrix, stack: String(evaluate(String(step.with?.["stack-name"]), { matrix, vars })), command: String(step.with?.command) })),
        ),
    );
}
const deployJobs = () => clusterJobs().filter((j) => j.command === "up");
const readOnlyJobs = () => clusterJobs().filter((j) => j.command !== "up");

/**
 * The actions the workflows use, each pinned to the commit its release tag points to in the
 * action's repository (`git rev-parse <tag>^{commit}` in a snapshot of it), with the runtime and
 * the inputs its action.yml declares at that tag. Bumping one means re-reading action.yml and the
 * changelog at the new tag and updating this table.
 */
const ACTIONS: Record<string, { version: string; sha: string; runtime: string; inputs: readonly string[]; required: readonly string[] }> = {
    // actions/checkout v7.0.1 action.yml (`runs.using: node24`). v7.0.0 changelog: "Block checking
    // out fork PR for pull_request_target and workflow_run".
    "actions/checkout": {
        version: "v7.0.1",
        sha: "3d3c42e5aac5ba805825da76410c181273ba90b1",
        runtime: "node24",
        inputs: ["repository", "ref", "token", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user", "persist-credentials", "path", "clean", "filter", "sparse-checkout", "sparse-checkout-cone-mode", "fetch-depth", "fetch-tags", "show-progress", "lfs", "submodules", "set-safe-directory", "github-server-url", "allow-unsafe-pr-checkout"],
        required: [],
    },
    // actions/setup-node v7.0.0 action.yml; README "Breaking changes in V7: Migrated to ESM".
    "actions/setup-node": {
        version: "v7.0.0",
        sha: "820762786026740c76f36085b0efc47a31fe5020",
        runtime: "node24",
        inputs: ["node-version", "node-version-file", "architecture", "check-latest", "registry-url", "scope", "token", "cache", "package-manager-cache", "cache-dependency-path", "mirror", "mirror-token"],
        required: [],
    },
    // aws-actions/configure-aws-credentials v6.2.3 action.yml (`aws-region` required: true).
    "aws-actions/configure-aws-credentials": {
        version: "v6.2.3",
        sha: "e6de054238d6b7531b4efff3b6587d9aade6a06c",
        runtime: "node24",
        inputs: ["aws-region", "aws-profile", "overwrite-aws-profile", "role-to-assume", "aws-access-key-id", "aws-secret-access-key", "aws-session-token", "web-identity-token-file", "role-chaining", "audience", "http-proxy", "no-proxy", "mask-aws-account-id", "role-duration-seconds", "role-external-id", "role-session-name", "role-skip-session-tagging", "transitive-tag-keys", "inline-session-policy", "managed-session-policies", "output-credentials", "output-env-credentials", "unset-current-credentials", "disable-retry", "retry-max-attempts", "special-characters-workaround", "use-existing-credentials", "allowed-account-ids", "force-skip-oidc", "action-timeout-s", "custom-tags", "sts-endpoint"],
        required: ["aws-region"],
    },
    // pulumi/actions v7.0.0 action.yml; CHANGELOG 7.0.0 "update Action runtime to node 24", inputs as in v6.6.1.
    "pulumi/actions": {
        version: "v7.0.0",
        sha: "8e5e406f4007fca908480587cb9893c07090f58d",
        runtime: "node24",
        inputs: ["command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir", "comment-on-pr", "comment-on-pr-number", "comment-on-summary", "github-token", "cloud-url", "secrets-provider", "parallel", "message", "config-map", "expect-no-changes", "diff", "replace", "exclude", "exclude-dependents", "target", "target-dependents", "policyPacks", "policyPackConfigs", "refresh", "upsert", "remove", "edit-pr-comment", "color", "exclude-protected", "plan", "suppress-outputs", "suppress-progress", "always-include-summary", "continue-on-error", "log-verbosity", "log-flow", "debug"],
        required: [],
    },
};

// pulumi/actions v7.0.0 src/config.ts makeConfig: `command` is a union input of these (getUnionInput,
// required once given) and the flags below are read with getBooleanInput.
const PULUMI_COMMANDS = ["up", "update", "refresh", "destroy", "preview", "output"];
const PULUMI_BOOLEAN_INPUTS = ["comment-on-pr", "upsert", "refresh", "expect-no-changes", "diff"];

/** Runner variables: the deploy jobs' and the read-only jobs' never coincide (pull requests run their own code on the latter). */
const RUNNER_VARIABLES = { up: { staging: "STAGING_RUNNER", prod: "PROD_RUNNER" }, read: { staging: "STAGING_PREVIEW_RUNNER", prod: "PROD_PREVIEW_RUNNER" } } as const;
const ENVIRONMENTS: Record<string, string> = { staging: "staging", prod: "production" };

describe("the workflows", () => {
    it.each(FILES)("%s is a valid workflow for GitHub's own parser (keys, values, contexts per key)", (file) => {
        const result = parseWorkflow({ name: file, content: text(file) }, new NoOperationTraceWriter());
        expect(result.context.errors.getErrors().map((e) => e.message)).toEqual([]);
        expect(result.value).toBeDefined();
    });

    it("pin every action by the full commit of a release tag, with that tag as a comment", () => {
        const uses = FILES.flatMap((file) => [...text(file).matchAll(/^\s*(?:-\s+)?uses:\s*(.*)$/gm)].map((m) => ({ file, line: (m[1] ?? "").trim() })));
        expect(uses.length).toBeGreaterThan(0);
        for (const { file, line } of uses) {
            const m = /^([\w.-]+\/[\w.-]+)@([0-9a-f]{40}) # (v[0-9]+\.[0-9]+\.[0-9]+)$/.exec(line);
            expect(m, `${file}: uses: ${line}`).not.toBeNull();
            const [, action = "", sha, version] = m!;
            expect(ACTIONS[action], `${file}: ${action} is not in the table of traced actions`).toBeDefined();
            expect({ action, sha, version }, file).toEqual({ action, sha: ACTIONS[action]!.sha, version: ACTIONS[action]!.version });
        }
    });

    it("give each action only inputs its action.yml declares at the pinned tag, and its required ones", () => {
        for (const { file, id, job } of allJobs()) {
            for (const step of job.steps ?? []) {
                if (!step.uses) continue;
                const pinned = ACTIONS[step.uses.split("@")[0] ?? ""]!;
                const given = Object.keys(step.with ?? {});
                expect(given.filter((k) => !pinned.inputs.includes(k)), `${file} ${id} ${step.uses}`).toEqual([]);
                expect(pinned.required.filter((k) => !given.includes(k)), `${file} ${id} ${step.uses}`).toEqual([]);
            }
        }
    });

    it("run pulumi/actions only with a command it knows and boolean flags as booleans", () => {
        for (const { file, id, step } of clusterJobs()) {
            expect(PULUMI_COMMANDS, `${file} ${id}`).toContain(step.with?.command);
            for (const flag of PULUMI_BOOLEAN_INPUTS.filter((f) => step.with?.[f] !== undefined)) expect(typeof step.with?.[flag], `${file} ${id} ${flag}`).toBe("boolean");
        }
    });

    // aws-actions/configure-aws-credentials v6.2.3 src/index.ts: a role session name of 2..64
    // characters matching ROLE_SESSION_NAME_REGEX /^[\w+=,.@-]*$/, else the action fails.
    it("name each AWS session so the action accepts it (and CloudTrail and EKS show which run it was)", () => {
        for (const { file, id, job } of allJobs()) {
            for (const step of stepsUsing(job, "aws-actions/configure-aws-credentials")) {
                const name = String(evaluate(String(step.with?.["role-session-name"]), { github: { run_id: "99999999999" } }));
                expect(name, `${file} ${id}`).toMatch(/^[\w+=,.@-]{2,64}$/);
            }
        }
    });

    it("grant the token read-only contents by default and each job only what it uses", () => {
        for (const file of FILES) expect(workflow(file).permissions, file).toEqual({ contents: "read" });
        for (const { file, id, job } of allJobs()) {
            expect(job.permissions, `${file} ${id} sets its own permissions`).toBeDefined();
            const oidc = stepsUsing(job, "aws-actions/configure-aws-credentials").length > 0;
            const comments = pulumiSteps(job).some((s) => s.with?.["comment-on-pr"] === true);
            const checksOut = stepsUsing(job, "actions/checkout").length > 0;
            expect(job.permissions, `${file} ${id}`).toEqual({
                ...(checksOut ? { contents: "read" } : {}),
                ...(oidc ? { "id-token": "write" } : {}),
                ...(comments ? { "pull-requests": "write" } : {}),
            });
        }
    });

    it("check out without leaving the token in the git config", () => {
        for (const { file, id, job } of allJobs()) for (const step of stepsUsing(job, "actions/checkout")) expect(step.with?.["persist-credentials"], `${file} ${id}`).toBe(false);
    });
});

describe("deployments", () => {
    it("deploy staging and prod from main only, each in its GitHub environment with that environment's role", () => {
        const jobs = deployJobs();
        expect(jobs.map((j) => j.stack).sort()).toEqual(["prod", "staging"]);
        for (const { file, id, job, stack } of jobs) {
            expect(workflow(file).on, file).toEqual({ push: { branches: ["main"] } });
            expect(job.environment, `${file} ${id}`).toBe(ENVIRONMENTS[stack]);
            const [aws] = stepsUsing(job, "aws-actions/configure-aws-credentials");
            expect(aws?.with?.["role-to-assume"], `${file} ${id}`).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
        }
    });

    // GitHub: "there can be at most one running and one pending job in a concurrency group at any
    // time ... Any existing pending job ... will be canceled and the new queued job or workflow will
    // take its place" (github/docs data/reusables/actions/actions-group-concurrency.md).
    it("run one deployment per stack at a time in a group of its own, never cancelling one in progress", () => {
        const jobs = deployJobs();
        for (const { file } of jobs) expect(workflow(file).concurrency, `${file} has no workflow-wide group`).toBeUndefined();
        const groups = jobs.map(({ file, id, job, stack }) => {
            expect(job.concurrency?.["cancel-in-progress"], `${file} ${id}`).toBe(false);
            const group = String(evaluate(String(job.concurrency?.group), {}));
            expect(group, `${file} ${id}`).toContain(stack);
            return group.toLowerCase(); // group names are case-insensitive
        });
        expect(new Set(groups).size).toBe(jobs.length);
    });

    it("install no dependency cache where deploy credentials are (setup-node README: package-manager-cache: false for privileged workflows)", () => {
        for (const { file, id, job } of deployJobs()) {
            for (const step of stepsUsing(job, "actions/setup-node")) {
                expect(step.with?.["package-manager-cache"], `${file} ${id}`).toBe(false);
                expect(step.with?.cache, `${file} ${id}`).toBeUndefined();
            }
        }
    });

    it("fail with one line when the environment has no deploy role, before anything runs", () => {
        for (const { file, id, job } of deployJobs()) {
            const [first] = job.steps ?? [];
            expect(first?.env?.ROLE, `${file} ${id}`).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
            expect(first?.run, `${file} ${id}`).toMatch(/if \[ -z "\$ROLE" \]; then\s+echo "::error::[^\n]*AWS_DEPLOY_ROLE_ARN[^\n]*"\s+exit 1/);
        }
    });
});

describe("previews and drift checks", () => {
    const readOnlyFiles = () => [...new Set(readOnlyJobs().map((j) => j.file))];

    it("preview both cloud stacks on pull requests and check both for drift, with the policy pack on previews", () => {
        const jobs = readOnlyJobs();
        expect(jobs.filter((j) => "pull_request" in workflow(j.file).on).map((j) => `${j.command} ${j.stack}`).sort()).toEqual(["preview prod", "preview staging"]);
        expect(jobs.filter((j) => "schedule" in workflow(j.file).on).map((j) => j.stack).sort()).toEqual(["prod", "staging"]);
        for (const { file, id, step, stack } of jobs.filter((j) => "pull_request" in workflow(j.file).on)) {
            expect(evaluate(String(step.with?.policyPackConfigs), { matrix: { stack } }), `${file} ${id}`).toBe(`policy/config/${stack}.json`);
        }
    });

    // pulumi/actions v7.0.0 src/config.ts reads `refresh` and `expect-no-changes` into the options
    // it hands to the Automation API's Stack.preview, which adds `--refresh` and
    // `--expect-no-changes` (@pulumi/pulumi 3.206.0, the version the action's yarn.lock pins,
    // automation/stack.js). The CLI then fails when the refreshed resources differ from the program
    // (pulumi v3.259.0 pkg/cmd/pulumi/operations/preview.go: `expectNop && ... engine.HasChanges`).
    it("check drift as preview --refresh --expect-no-changes, without writing the state", () => {
        const drift = readOnlyJobs().filter((j) => "schedule" in workflow(j.file).on);
        expect(drift.map((j) => j.stack).sort()).toEqual(["prod", "staging"]);
        for (const { file, id, step } of drift) expect(step.with, `${file} ${id}`).toMatchObject({ command: "preview", refresh: true, "expect-no-changes": true });
    });

    it("never name the deploy environments, roles or runners, nor the old shared role", () => {
        const files = readOnlyFiles();
        expect(files.sort()).toEqual(["drift.yml", "preview.yml"]);
        for (const file of files) {
            for (const [id, job] of Object.entries(workflow(file).jobs)) expect(job.environment, `${file} ${id}`).toBeUndefined();
            expect(text(file), file).not.toMatch(/\bAWS_DEPLOY_ROLE_ARN\b|\bAWS_ROLE_ARN\b|\bvars\.(STAGING|PROD)_RUNNER\b|\bpull_request_target\b/);
        }
        for (const { file, id, job } of readOnlyJobs()) {
            const [aws] = stepsUsing(job, "aws-actions/configure-aws-credentials");
            expect(aws?.with?.["role-to-assume"], `${file} ${id}`).toBe("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
        }
    });
});

// GitHub-hosted runners have no fixed egress addresses, so a job that reaches a cluster whose API
// endpoint admits only some CIDRs (prod) runs where a repository variable says: a JSON runner label
// or label list, `fromJSON` turning it into what runs-on takes. fromJSON of an empty string (an unset
// variable) fails (actions/languageservices expressions/src/funcs/fromjson.ts: "empty input"), so
// each expression falls back to the GitHub-hosted runner.
describe("runners of the jobs that talk to a cluster", () => {
    const selfHosted = '["self-hosted","kubeforge-prod"]';
    const runnerOf = (job: Job, matrix: Record<string, string>, vars: Record<string, string>) => evaluate(job["runs-on"], { matrix, vars });
    const rowOf = (job: Job, vars: Record<string, string>, stack: string) => matrixRows(job, vars).find((r) => r.stack === undefined || r.stack === stack) ?? {};

    it("is GitHub-hosted while no runner variable is set", () => {
        for (const { file, id, job, stack } of clusterJobs()) expect(runnerOf(job, rowOf(job, {}, stack), {}), `${file} ${id} ${stack}`).toBe("ubuntu-latest");
    });

    it("is the labels in the stack's variable once set: the deploy runner for deployments, the preview runner for previews and drift checks", () => {
        for (const kind of ["up", "read"] as const) {
            for (const stack of ["staging", "prod"] as const) {
                const vars = { [RUNNER_VARIABLES[kind][stack]]: selfHosted };
                const jobs = clusterJobs(vars).filter((j) => j.stack === stack && (j.command === "up") === (kind === "up"));
                expect(jobs.length, `${kind} ${stack}`).toBeGreaterThan(0);
                for (const { file, id, job, matrix } of jobs) expect(runnerOf(job, matrix, vars), `${file} ${id} ${stack}`).toEqual(["self-hosted", "kubeforge-prod"]);
            }
        }
    });

    it("never puts a preview or drift check on a deploy runner, nor a deployment on a preview runner", () => {
        const deployVars = { STAGING_RUNNER: selfHosted, PROD_RUNNER: selfHosted };
        for (const { file, id, job, matrix } of readOnlyJobs().map((j) => ({ ...j, matrix: rowOf(j.job, deployVars, j.stack) }))) expect(runnerOf(job, matrix, deployVars), `${file} ${id}`).toBe("ubuntu-latest");
        const previewVars = { STAGING_PREVIEW_RUNNER: selfHosted, PROD_PREVIEW_RUNNER: selfHosted };
        for (const { file, id, job } of deployJobs()) expect(runnerOf(job, {}, previewVars), `${file} ${id}`).toBe("ubuntu-latest");
    });

    it("needs the fallback: fromJSON of an unset variable fails", () => {
        expect(() => evaluate("${{ fromJSON(vars.PROD_RUNNER) }}", { vars: {} })).toThrow("empty input");
    });
});

describe("docs/environments.md", () => {
    const docs = readFileSync(join(PROJECT_ROOT, "docs", "environments.md"), "utf8");

    it("names every secret and variable the workflows read", () => {
        const names = new Set(FILES.flatMap((file) => [...text(file).matchAll(/\b(?:secrets|vars)\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] ?? "")));
        names.delete("GITHUB_TOKEN");
        expect(names.size).toBeGreaterThan(5);
        for (const name of names) expect(docs, name).toContain(`\`${name}\``);
    });

    // A job that references an environment presents `repo:<owner>/<repo>:environment:<name>` as
    // its OIDC subject; a pull_request job without one `repo:<owner>/<repo>:pull_request`; a
    // scheduled run on main `repo:<owner>/<repo>:ref:refs/heads/main`
    // (aws-actions/configure-aws-credentials v6.2.3 README, "Claims and scoping permissions").
    it("gives trust policies whose subjects are exactly the workflows' own", () => {
        const policies = [...docs.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] ?? "") as { Statement: { Condition?: { StringEquals?: Record<string, string | string[]> } }[] });
        const subjects = policies.flatMap((p) => p.Statement.flatMap((s) => [s.Condition?.StringEquals?.["token.actions.githubusercontent.com:sub"] ?? []].flat()));
        const deployEnvironments = deployJobs().map((j) => `repo:OWNER/REPO:environment:${j.job.environment}`);
        expect(subjects.sort()).toEqual([...deployEnvironments, "repo:OWNER/REPO:pull_request", "repo:OWNER/REPO:ref:refs/heads/main"].sort());
        const trusts = policies.flatMap((p) => p.Statement).filter((s) => s.Condition?.StringEquals?.["token.actions.githubusercontent.com:sub"] !== undefined);
        for (const s of trusts) expect(s.Condition?.StringEquals?.["token.actions.githubusercontent.com:aud"]).toBe("sts.amazonaws.com");
    });
});
