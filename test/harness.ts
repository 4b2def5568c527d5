/**
 * Test helpers: run the real program under Pulumi mocks for a stack (optionally with config
 * overrides) and query what it declared.
 */
import { vi } from "vitest";
import { isPlainObject } from "../components/config";
import { runUnderMocks, type ProgramRun, type RecordedResource } from "../scripts/mocks";
import { stackConfig } from "../scripts/stack-files";

export type { RecordedResource } from "../scripts/mocks";

/** Stacks that have a `Pulumi.<stack>.yaml` (scripts/stack-files.ts). */
export { stackNames as stackFiles } from "../scripts/stack-files";

/** Deep-merge `overrides` into `base`; a `null` override removes the key. */
export function withOverrides(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(overrides)) {
        const prev = out[key];
        if (value === null) delete out[key];
        else if (isPlainObject(value) && isPlainObject(prev)) out[key] = withOverrides(prev, value);
        else out[key] = value;
    }
    return out;
}

/**
 * Run index.ts under mocks with the stack's config; `overrides` (Pulumi config keys such as
 * `kubeforge:services`) are merged over it with {@link withOverrides}; `secretKeys` are held as
 * secrets (as `pulumi config set --secret` would).
 */
export async function runStack(stack: string, overrides: Record<string, unknown> = {}, secretKeys: string[] = []): Promise<Program> {
    const config = withOverrides(stackConfig(stack), overrides);
    vi.resetModules();
    const run = await runUnderMocks(stack, config, () => import("../index"), "kubeforge", { secretKeys });
    return new Program(run);
}

/** Queries over one program run. */
export class Program {
    constructor(readonly run: ProgramRun) {}

    get resources(): RecordedResource[] {
        return this.run.resources;
    }

    /** Every resource of a type token. */
    ofType(type: string): RecordedResource[] {
        return this.resources.filter((r) => r.type === type);
    }

    /** The one resource of a type with this logical name. */
    named(type: string, name: string): RecordedResource {
        const found = this.ofType(type).filter((r) => r.name === name);
        if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
        return found[0]!;
    }

    /** Kubernetes objects of a kind (`Deployment`, `Service`, ...) whose metadata.name is `name`, or all of them. */
    k8s(kind: string, name?: string): K8sObject[] {
        return this.resources
            .filter((r) => r.type.startsWith("kubernetes:") && r.type.endsWith(`:${kind}`))
            .map((r) => r.inputs as unknown as K8sObject)
            .filter((o) => name === undefined || o.metadata?.name === name);
    }

    /** Children of a component (by its logical name). */
    childrenOf(parent: string): RecordedResource[] {
        return this.resources.filter((r) => r.parent === parent);
    }
}

/** The parts of a Kubernetes object the tests read; the rest is reached by indexing. */
export interface K8sObject {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    // Kubernetes specs are deep and varied; tests navigate them like JSON.
    spec?: Record<string, unknown> & JsonLike;
    [key: string]: unknown;
}
type JsonLike = Record<string, unknown>;

/** Navigate JSON by a dotted path with numeric indices (`spec.template.spec.containers.0.image`). */
export function at<T = unknown>(obj: unknown, path: string): T {
    let cur: unknown = obj;
    for (const part of path.split(".")) {
        if (cur === null || cur === undefined) return undefined as T;
        cur = (cur as Record<string, unknown>)[part];
    }
    return cur as T;
}
