/**
 * The offline policy check: runs the pack's policies over the synth output
 * (`synth/<stack>/resources.json`) with a stack's policy config (`policy/config/<stack>.json`),
 * the way `pulumi preview --policy-pack policy --policy-pack-config ...` runs them over a real
 * preview, without the CLI, credentials or a cluster.
 *
 * Pure functions only; `scripts/policy.ts` is the command-line wrapper.
 */
import type {
    EnforcementLevel,
    Policies,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { isRecord } from "./lib/kubernetes";

/** One entry of `synth/<stack>/resources.json`. */
export interface SynthResource {
    type: string;
    name: string;
    parent: string | null;
    inputs: Record<string, unknown>;
    /** Resource options the synth records, when it does. */
    options?: SynthOptions;
}

/** The resource options of a synth entry the policies can see. */
export interface SynthOptions {
    protect?: boolean;
    ignoreChanges?: string[];
    /** URNs of the resources it depends on (through its inputs or `dependsOn`). */
    dependencies?: string[];
}

/** One policy's entry in a policy pack config file: a level, or knobs with an optional level. */
export type PolicyConfigEntry = EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>);

/** A policy pack config file, as `pulumi preview --policy-pack-config` reads it. */
export type PackConfig = Record<string, PolicyConfigEntry>;

/** One reported violation. */
export interface Violation {
    policy: string;
    enforcementLevel: EnforcementLevel;
    severity?: Severity;
    /** URN of the resource in violation; undefined for the stack as a whole. */
    urn?: string;
    message: string;
}

const LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

/** Raised for unusable input files: one line naming the file and what is wrong. */
export class PolicyInputError extends Error {
    override readonly name = "PolicyInputError";
}

function parseJson(text: string, source: string): unknown {
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new PolicyInputError(`${source}: is not valid JSON (${(e as Error).message})`);
    }
}

/** Parse and check a synth `resources.json`. */
export function parseSynth(text: string, source: string): SynthResource[] {
    const data = parseJson(text, source);
    if (!Array.isArray(data)) throw new PolicyInputError(`${source}: expected an array of {type, name, parent, inputs}`);
    return data.map((entry: unknown, i) => {
        const ok = isRecord(entry) && typeof entry.type === "string" && typeof entry.name === "string" &&
            (entry.parent === null || entry.parent === undefined || typeof entry.parent === "string") && isRecord(entry.inputs ?? {});
        if (!ok) throw new PolicyInputError(`${source}: entry [${i}] is not {type: string, name: string, parent: string|null, inputs: object}`);
        const options = isRecord(entry.options) ? (entry.options as SynthOptions) : undefined;
        return { type: entry.type as string, name: entry.name as string, parent: (entry.parent as string | null | undefined) ?? null, inputs: (entry.inputs ?? {}) as Record<string, unknown>, options };
    });
}

/**
 * Parse and check a policy pack config file against the pack: every key is `all` or a policy
 * name, every level is one Pulumi knows, every knob is in the policy's configSchema.
 */
export function parsePackConfig(text: string, source: string, policies: Policies): PackConfig {
    const data = parseJson(text, source);
    if (!isRecord(data)) throw new PolicyInputError(`${source}: expected an object of policy name to config`);
    const byName = new Map(policies.map((p) => [p.name, p]));
    const checkLevel = (key: string, level: unknown) => {
        if (!LEVELS.includes(level as EnforcementLevel)) {
            throw new PolicyInputError(`${source}: ${key}: ${JSON.stringify(level)} is not an enforcement level (allowed: ${LEVELS.join(", ")})`);
        }
    };
    for (const [key, entry] of Object.entries(data)) {
        if (key === "all") {
            checkLevel(key, entry);
            continue;
        }
        const policy = byName.get(key);
        if (!policy) throw new PolicyInputError(`${source}: ${key}: is not a policy of the pack (allowed: all, ${[...byName.keys()].join(", ")})`);
        if (typeof entry === "string") {
            checkLevel(key, entry);
            continue;
        }
        if (!isRecord(entry)) throw new PolicyInputError(`${source}: ${key}: expected an enforcement level or an object of settings`);
        const knobs = Object.keys(policy.configSchema?.properties ?? {});
        for (const [knob, value] of Object.entries(entry)) {
            if (knob === "enforcementLevel") checkLevel(`${key}.enforcementLevel`, value);
            else if (!knobs.includes(knob)) {
                throw new PolicyInputError(`${source}: ${key}.${knob}: is not a setting of this policy (allowed: enforcementLevel${knobs.map((k) => `, ${k}`).join("")})`);
            }
        }
    }
    return data as PackConfig;
}

/**
 * A policy's effective enforcement level and knobs under a pack config, with Pulumi's
 * precedence: the policy's own entry, then `all`, then the level written in the policy, then
 * advisory.
 */
export function policySettings(policy: { name: string; enforcementLevel?: EnforcementLevel }, config: PackConfig): { enforcementLevel: EnforcementLevel; knobs: Record<string, unknown> } {
    const entry = config[policy.name];
    const all = config.all;
    const knobs: Record<string, unknown> = isRecord(entry) ? { ...entry } : {};
    delete knobs.enforcementLevel;
    const own = typeof entry === "string" ? entry : isRecord(entry) ? entry.enforcementLevel : undefined;
    const level = own ?? (typeof all === "string" ? all : undefined) ?? policy.enforcementLevel ?? "advisory";
    return { enforcementLevel: level, knobs };
}

/**
 * Synth entries as the policy SDK's resources, with URNs as Pulumi builds them
 * (`urn:pulumi:<stack>::<project>::<parent types $ type>::<name>`), parents and dependencies
 * linked. (The synth records dependencies as one list, so `propertyDependencies` stays empty.)
 */
export function toPolicyResources(synth: SynthResource[], stack: string, project = "kubeforge"): PolicyResource[] {
    const byName = new Map<string, PolicyResource>();
    const resources = synth.map((s) => {
        const parent = s.parent === null ? undefined : byName.get(s.parent);
        const parentTypes = parent ? parent.urn.split("::")[2] ?? "" : "";
        const qualifiedType = parentTypes ? `${parentTypes}$${s.type}` : s.type;
        const resource: PolicyResource = {
            type: s.type,
            name: s.name,
            urn: `urn:pulumi:${stack}::${project}::${qualifiedType}::${s.name}`,
            props: s.inputs,
            opts: {
                protect: s.options?.protect ?? false,
                ignoreChanges: s.options?.ignoreChanges ?? [],
                aliases: [],
                additionalSecretOutputs: [],
                customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
                parent: parent?.urn,
            },
            parent,
            dependencies: [],
            propertyDependencies: {},
            isType: (cls) => isTypeOf(s.type, cls),
            asType: (cls) => (isTypeOf(s.type, cls) ? (s.inputs as never) : undefined),
        };
        byName.set(s.name, resource);
        return resource;
    });
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    synth.forEach((s, i) => {
        const deps = (s.options?.dependencies ?? []).flatMap((urn) => byUrn.get(urn) ?? []);
        resources[i]?.dependencies.push(...deps);
    });
    return resources;
}

function isTypeOf(type: string, cls: unknown): boolean {
    return (cls as { __pulumiType?: string }).__pulumiType === type;
}

class NotApplicable extends Error {}

function throwNotApplicable(reason?: string): never {
    throw new NotApplicable(reason);
}

/** Run every policy that is not disabled over the resources, as the Pulumi engine would. */
export async function runPolicies(policies: Policies, resources: PolicyResource[], config: PackConfig, stackTags: ReadonlyMap<string, string> = new Map()): Promise<Violation[]> {
    const violations: Violation[] = [];
    for (const policy of policies) {
        const { enforcementLevel, knobs } = policySettings(policy, config);
        if (enforcementLevel === "disabled") continue;
        const record = (urn?: string) => (message: string, reportedUrn?: string) => {
            violations.push({ policy: policy.name, enforcementLevel, severity: policy.severity, urn: reportedUrn ?? urn, message });
        };
        const getConfig = <T extends object>() => knobs as T;
        try {
            if ("validateStack" in policy) {
                const args: StackValidationArgs = { resources, stackTags, getConfig, notApplicable: throwNotApplicable };
                await (policy as StackValidationPolicy).validateStack(args, record());
                continue;
            }
            const validations = [(policy as ResourceValidationPolicy).validateResource ?? []].flat();
            for (const r of resources) {
                const args: ResourceValidationArgs = {
                    type: r.type, props: r.props, urn: r.urn, name: r.name, opts: r.opts, stackTags, getConfig, notApplicable: throwNotApplicable,
                    isType: r.isType, asType: (cls) => (r.isType(cls) ? (r.props as never) : undefined),
                };
                for (const validate of validations) await validate(args, record(r.urn));
            }
        } catch (e) {
            if (!(e instanceof NotApplicable)) throw e;
        }
    }
    return violations;
}

/** Whether any violation blocks a deployment (a mandatory policy failed). */
function hasBlockingViolation(violations: Violation[]): boolean {
    return violations.some((v) => v.enforcementLevel === "mandatory" || v.enforcementLevel === "remediate");
}

/** A readable report: violations grouped by resource (in registration order), then a summary line. */
function formatReport(violations: Violation[], resources: PolicyResource[]): string {
    const order = new Map(resources.map((r, i) => [r.urn, i]));
    const groups = new Map<string, Violation[]>();
    for (const v of violations) {
        const key = v.urn ?? "";
        groups.set(key, [...(groups.get(key) ?? []), v]);
    }
    const keys = [...groups.keys()].sort((a, b) => (order.get(a) ?? -1) - (order.get(b) ?? -1));
    const lines: string[] = [];
    for (const key of keys) {
        const r = resources[order.get(key) ?? -1];
        lines.push(r ? `${r.name} (${r.type})` : key === "" ? "(stack)" : key);
        for (const v of groups.get(key) ?? []) {
            lines.push(`  [${v.enforcementLevel}${v.severity ? `, ${v.severity}` : ""}] ${v.policy}: ${v.message}`);
        }
    }
    const mandatory = violations.filter((v) => v.enforcementLevel !== "advisory").length;
    const advisory = violations.length - mandatory;
    lines.push(
        violations.length === 0
            ? `No policy violations in ${resources.length} resources.`
            : `${mandatory} mandatory and ${advisory} advisory violation(s) in ${groups.size} resource(s)${mandatory > 0 ? ": blocking." : "."}`,
    );
    return lines.join("\n");
}

/** A file's text and where it came from (for messages). */
export interface Source {
    text: string;
    source: string;
}

/** Everything the offline check does between reading the two files and printing the report. */
export async function checkStack(input: { policies: Policies; stack: string; resources: Source; config: Source }): Promise<{ violations: Violation[]; report: string; blocking: boolean }> {
    const resources = toPolicyResources(parseSynth(input.resources.text, input.resources.source), input.stack);
    const config = parsePackConfig(input.config.text, input.config.source, input.policies);
    const violations = await runPolicies(input.policies, resources, config);
    const header = `Policy pack kubeforge (${input.policies.length} policies) on stack ${input.stack}: ${input.resources.source} with ${input.config.source}`;
    return { violations, report: `${header}\n${formatReport(violations, resources)}`, blocking: hasBlockingViolation(violations) };
}
