/**
 * Reading the project's config files as the Pulumi CLI does: `Pulumi.yaml` (project name and
 * project-level config) and `Pulumi.<stack>.yaml`. Used by synth, the doctor and the tests, so
 * they all see the config `pulumi up` would.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/** Project root (where Pulumi.yaml lives). */
export const PROJECT_ROOT = join(__dirname, "..");

/** A stack whose config cannot be read: no such stack, an unreadable stack file, a required key left out. */
export class StackFileError extends Error {
    override readonly name = "StackFileError";
}

/** A project-level config declaration in Pulumi.yaml. */
interface ConfigDeclaration {
    default?: unknown;
    value?: unknown;
}

/** `Pulumi.yaml`: the project's name, and its config map from the declarations' `default`/`value`. */
export interface ProjectFile {
    name: string;
    /** `namespace:key` to value, for every declaration with a `default` or `value`. */
    config: Record<string, unknown>;
    /** Declared keys with neither: every stack must set them, or the CLI refuses to run. */
    required: string[];
}

export function readProjectFile(root = PROJECT_ROOT): ProjectFile {
    const doc = parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { name: string; config?: Record<string, ConfigDeclaration | string | number | boolean> };
    const config: Record<string, unknown> = {};
    const required: string[] = [];
    for (const [key, spec] of Object.entries(doc.config ?? {})) {
        const full = key.includes(":") ? key : `${doc.name}:${key}`;
        if (typeof spec !== "object" || spec === null) config[full] = spec;
        else if ("value" in spec) config[full] = spec.value;
        else if ("default" in spec) config[full] = spec.default;
        else required.push(full);
    }
    return { name: doc.name, config, required };
}

/** `config:` of a stack file at any path. */
export function readConfigFile(file: string): Record<string, unknown> {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch {
        throw new StackFileError(`cannot read stack file ${file}`);
    }
    const doc = (parse(text) ?? {}) as { config?: Record<string, unknown> };
    return doc.config ?? {};
}

/** Stacks that have a `Pulumi.<stack>.yaml` in the project, sorted. */
export function stackNames(root = PROJECT_ROOT): string[] {
    return readdirSync(root).flatMap((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1] ?? []).sort();
}

/** `Pulumi.<stack>.yaml` in the project. */
export function stackFilePath(stack: string, root = PROJECT_ROOT): string {
    return join(root, `Pulumi.${stack}.yaml`);
}

/**
 * The config a stack runs with: the project's defaults and values, overridden key by key by the
 * stack file (`stackFile`, default `Pulumi.<stack>.yaml`). Throws a {@link StackFileError} for a
 * stack without a stack file (one line listing the stacks there are, and offering
 * `stackFileOption`, the command's option for another file, when it has one) and, as the CLI
 * does, when the stack leaves out a key the project declares without a default.
 */
export function stackConfig(stack: string, opts: { root?: string; stackFile?: string; stackFileOption?: string } = {}): Record<string, unknown> {
    const project = readProjectFile(opts.root);
    if (opts.stackFile === undefined && !existsSync(stackFilePath(stack, opts.root))) {
        const orFile = opts.stackFileOption === undefined ? "" : `; or give ${opts.stackFileOption} FILE`;
        throw new StackFileError(`stack ${JSON.stringify(stack)} does not exist: there is no Pulumi.${stack}.yaml (stacks: ${stackNames(opts.root).join(", ")})${orFile}`);
    }
    const own = readConfigFile(opts.stackFile ?? stackFilePath(stack, opts.root));
    const missing = project.required.filter((key) => !(key in own));
    if (missing.length > 0) throw new StackFileError(missing.map((key) => `Stack '${stack}' is missing configuration value '${key}'`).join("\n"));
    return { ...project.config, ...own };
}
