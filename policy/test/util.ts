/**
 * Test helpers after pulumi/pulumi-policy `sdk/nodejs/policy/tests/util.ts`: run one policy over
 * hand-made resources and collect what it reports. Resources start from the compliant fixture
 * (a production-shaped stack that every policy accepts) and each test breaks one thing.
 *
 * Never import ../index.ts here: constructing the PolicyPack starts a gRPC server.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseSynth, runPolicies, type SynthResource, toPolicyResources, type Violation } from "../runner";

export const FIXTURES = join(__dirname, "fixtures");

/** A fresh copy of a fixture's resources. */
export function fixture(name: "compliant" | "broken"): SynthResource[] {
    const file = join(FIXTURES, `${name}.resources.json`);
    return parseSynth(readFileSync(file, "utf8"), file);
}

/** The inputs of the resource with this logical name, typed as the caller reads them. */
export function inputsOf<T>(resources: SynthResource[], name: string): T {
    const r = resources.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name} in the fixture`);
    return r.inputs as T;
}

/** Run one policy over resources with the given knobs (as in a policy pack config file). */
export async function check(
    policy: ResourceValidationPolicy | StackValidationPolicy,
    resources: SynthResource[],
    knobs: Record<string, unknown> = {},
): Promise<Violation[]> {
    return runPolicies([policy], toPolicyResources(resources, "test"), { [policy.name]: knobs });
}

/** The messages of the violations, for readable assertions. */
export async function messages(policy: ResourceValidationPolicy | StackValidationPolicy, resources: SynthResource[], knobs: Record<string, unknown> = {}): Promise<string[]> {
    return (await check(policy, resources, knobs)).map((v) => v.message);
}
