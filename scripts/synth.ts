/**
 * `npm run synth -- <stack>`: render the stack offline.
 *
 * Runs the real program under Pulumi's mocks with the config of `Pulumi.<stack>.yaml` and writes
 * `synth/<stack>/resources.json` (every resource and component, in registration order) and
 * `synth/<stack>/kubernetes.yaml` (every Kubernetes object, for kubeconform, kube-score & co.).
 * Invalid stack config exits 1 with one line per problem naming the key.
 *
 * `npm run synth -- <stack> --stack-file FILE` renders FILE's config as stack <stack> (a template
 * for a new environment, before it becomes `Pulumi.<stack>.yaml`); FILE is absolute or relative to
 * the directory the command was run in (./user-files.ts).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { runCli } from "./cli";
import { isSecretValue, runUnderMocks, type RecordedResource } from "./mocks";
import { PROJECT_ROOT, readProjectFile, stackConfig } from "./stack-files";
import { userFile } from "./user-files";

/** The synth contract's view of a resource. */
function contractEntry(r: RecordedResource): { type: string; name: string; parent: string | null; inputs: Record<string, unknown>; options: RecordedResource["options"] } {
    return { type: r.type, name: r.name, parent: r.parent, inputs: r.inputs, options: r.options };
}

/** `kubernetes:<group>/<version>:<Kind>` of a plain Kubernetes object (not Helm, YAML groups or providers). */
const K8S_OBJECT = /^kubernetes:(?!helm\.sh|yaml|kustomize)([^:]+):([A-Za-z]+)$/;

/** What a secret's every string becomes in kubernetes.yaml. */
export const REDACTED = "(secret)";

/**
 * A recorded input with its secrets redacted: every string inside a secret becomes
 * {@link REDACTED}, keys and shape kept (a Secret's `stringData` keeps its keys).
 */
export function redactSecrets(value: unknown, inSecret = false): unknown {
    if (isSecretValue(value)) return redactSecrets(value.value, true);
    if (typeof value === "string") return inSecret ? REDACTED : value;
    if (Array.isArray(value)) return value.map((v) => redactSecrets(v, inSecret));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v, inSecret)]));
    return value;
}

/** Every Kubernetes object among the resources, as the manifest a cluster would receive (secrets redacted). */
export function kubernetesObjects(resources: RecordedResource[]): Record<string, unknown>[] {
    return resources.flatMap((r) => {
        const m = K8S_OBJECT.exec(r.type);
        if (!m) return [];
        const group = m[1] ?? "";
        const apiVersion = group.startsWith("core/") ? group.slice("core/".length) : group;
        const { apiVersion: _a, kind: _k, metadata, ...rest } = redactSecrets(r.inputs) as Record<string, unknown>;
        return [{ apiVersion, kind: m[2], metadata: metadata ?? {}, ...rest }];
    });
}

function parseSynthArgs(argv: string[]) {
    return parseArgs({ args: argv, allowPositionals: true, options: { "stack-file": { type: "string" } } });
}

/** The program synth renders: `index.ts`, imported afresh. */
export type ProgramLoader = () => Promise<Record<string, unknown>>;

async function main(argv: string[], load: ProgramLoader): Promise<number> {
    const usage = "usage: npm run synth -- <stack> [--stack-file FILE]   (e.g. dev, staging, prod)";
    let args: ReturnType<typeof parseSynthArgs>;
    try {
        args = parseSynthArgs(argv);
    } catch (err) {
        // An unknown option or --stack-file without a value: node:util's one-line message.
        console.error(`${(err as Error).message} (${usage})`);
        return 2;
    }
    const { values, positionals } = args;
    const stack = positionals[0];
    if (!stack || positionals.length > 1) {
        console.error(usage);
        return 2;
    }
    let config: Record<string, unknown>;
    try {
        const stackFile = values["stack-file"];
        config = stackConfig(stack, { stackFile: stackFile === undefined ? undefined : userFile("--stack-file", stackFile), stackFileOption: "--stack-file" });
    } catch (err) {
        console.error((err as Error).message);
        return 2;
    }
    const started = Date.now();
    const run = await runUnderMocks(stack, config, load, readProjectFile().name);
    const dir = join(PROJECT_ROOT, "synth", stack);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "resources.json"), JSON.stringify(run.resources.map(contractEntry), null, 2) + "\n");
    const objects = kubernetesObjects(run.resources);
    writeFileSync(join(dir, "kubernetes.yaml"), objects.map((o) => stringify(o)).join("---\n"));
    console.log(`synth/${stack}: ${run.resources.length} resources, ${objects.length} Kubernetes objects (${Date.now() - started} ms)`);
    return 0;
}

/**
 * `npm run synth -- <args>`: render `load`'s program (default index.ts) and exit with synth's code;
 * invalid config and every RunError are one line (./cli.ts).
 */
export function cli(argv: string[], load: ProgramLoader = () => import("../index")): void {
    runCli(() => main(argv, load));
}

if (require.main === module) cli(process.argv.slice(2));
