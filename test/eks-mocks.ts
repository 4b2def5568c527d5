/**
 * Helpers for the EKS tests: build the cluster component from a stack's settings under the shared
 * mock runner (scripts/mocks.ts, which records every resource with its inputs and options and
 * fakes the AWS answers), and query what was recorded.
 */
import * as pulumi from "@pulumi/pulumi";
import { createCluster } from "../components/cluster";
import { EksCluster } from "../components/cluster/eks/eks";
import { CONFIG_NAMESPACE, parseSettings, type RawConfig, type Settings } from "../components/config";
import { runUnderMocks, type RecordedResource, type RunOptions } from "../scripts/mocks";
import { stackConfig } from "../scripts/stack-files";

/** Every resource recorded by {@link buildEksCluster} so far (cluster names keep runs apart). */
const recordedResources: RecordedResource[] = [];

/** Settings from Pulumi.<stack>.yaml, optionally with raw `kubeforge:*` overrides and under another stack name. */
export function stackSettings(stack: string, override: (raw: RawConfig) => void = () => undefined, as = stack): Settings {
    const config = stackConfig(stack);
    const raw: RawConfig = {};
    for (const [key, value] of Object.entries(config)) {
        if (key.startsWith(`${CONFIG_NAMESPACE}:`)) raw[key.slice(CONFIG_NAMESPACE.length + 1)] = value;
    }
    override(raw);
    const region = config["aws:region"];
    return parseSettings(raw, "kubeforge", as, { awsRegion: typeof region === "string" ? region : undefined });
}

/** Build the configured cluster (which must be an EKS one) under mocks and wait for every registration. */
export async function buildEksCluster(settings: Settings, options: RunOptions = {}): Promise<EksCluster> {
    let cluster: unknown;
    const run = await runUnderMocks(settings.stack, {}, async () => {
        cluster = createCluster(settings);
        return {};
    }, "kubeforge", options);
    recordedResources.push(...run.resources);
    if (!(cluster instanceof EksCluster)) throw new Error(`stack ${settings.stack} did not build an EksCluster`);
    return cluster;
}

/** The resolved value of an output (under mocks every output resolves). */
export function valueOf<T>(output: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

/** Every resource recorded so far. */
export function recorded(): readonly RecordedResource[] {
    return recordedResources;
}

/** Recorded resources of a type whose name starts with `prefix`. */
export function ofType(type: string, prefix = ""): RecordedResource[] {
    return recordedResources.filter((r) => r.type === type && r.name.startsWith(prefix));
}

/** The one recorded resource of a type and name. */
export function one(type: string, name: string): RecordedResource {
    const found = recordedResources.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length} (have: ${ofType(type).map((r) => r.name).join(", ")})`);
    return found[0] as RecordedResource;
}
