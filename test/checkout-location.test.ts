/**
 * A stack previewed from another checkout directory of the same commit (CI and a laptop, two
 * laptops) must see no change. Pulumi compares the program's inputs with the state, so no input
 * may carry the checkout's path. Here the real program runs as `npm run synth` runs it (under
 * mocks, in the checkout's directory, with its stack files) in two copies of this checkout at
 * different paths; their resources are the same and free of either path: for staging and prod
 * entirely, for dev in every image input (the kind cluster's certs mount is the kind flavour's
 * own business).
 *
 * Relative paths work because Pulumi runs the program and the providers in the project directory:
 * pulumi/pulumi pkg/engine/project.go getPwdMain (the working directory is the project root
 * unless Pulumi.yaml sets `main`), sdk/go/common/resource/plugin/provider_plugin.go (every
 * resource plugin starts with `newPlugin(ctx, ctx.Pwd, ...)`) and plugin.go ExecPlugin
 * (`cmd.Dir = pwd`). @pulumi/docker v4.11.2 resolves `build.context` and `build.dockerfile`
 * against its working directory (provider/provider.go Check: `os.Stat(build.Dockerfile)`,
 * `hashContext`; provider/image.go dockerBuild: docker/cli v28.5.2
 * cli/command/image/build/context.go GetContextFromLocalDir, `filepath.Abs` of both).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { runUnderMocks } from "../scripts/mocks";
import { PROJECT_ROOT, stackConfig } from "../scripts/stack-files";

const STACKS = ["dev", "staging", "prod"] as const;
type Stack = (typeof STACKS)[number];
interface Entry {
    type: string;
    name: string;
    parent: string | null;
    inputs: Record<string, unknown>;
}

/** A copy of this checkout's files (no installed packages, builds or generated files) at `to`, with the packages linked in. */
function copyCheckout(to: string): void {
    cpSync(PROJECT_ROOT, to, {
        recursive: true,
        filter: (src) => !/^\/(node_modules|synth|\.kubeforge|\.git|\.pulumi)(\/|$)|\/(node_modules|dist)(\/|$)|\.tsbuildinfo$/.test(src.slice(PROJECT_ROOT.length)),
    });
    symlinkSync(join(PROJECT_ROOT, "node_modules"), join(to, "node_modules"));
}

/** The checkout's own program, run as `npm run synth` runs it (under mocks, in the checkout directory), as the synth contract records it. */
async function synth(checkout: string, stack: Stack): Promise<Entry[]> {
    const cwd = process.cwd();
    process.chdir(checkout);
    vi.resetModules();
    try {
        const run = await runUnderMocks(stack, stackConfig(stack, { root: checkout }), () => import(join(checkout, "index.ts")));
        return run.resources.map(({ type, name, parent, inputs }) => ({ type, name, parent, inputs }));
    } finally {
        process.chdir(cwd);
    }
}

/** Every string in `value` (deeply) that contains one of `paths`. */
function mentions(value: unknown, paths: string[]): string[] {
    if (typeof value === "string") return paths.some((p) => value.includes(p)) ? [value] : [];
    if (Array.isArray(value)) return value.flatMap((v) => mentions(v, paths));
    if (value && typeof value === "object") return Object.values(value).flatMap((v) => mentions(v, paths));
    return [];
}

/** The image side of a stack: ServiceImages and their children (RegistryTag, docker.Image). */
const imageInputs = (entries: Entry[]) => {
    const images = new Set(entries.filter((e) => e.type === "kubeforge:image:ServiceImage").map((e) => e.name));
    return entries.filter((e) => images.has(e.name) || (e.parent !== null && images.has(e.parent)));
};

it("runs the program from the project root: Pulumi.yaml sets no main", () => {
    expect(parse(readFileSync(join(PROJECT_ROOT, "Pulumi.yaml"), "utf8"))).not.toHaveProperty("main");
});

describe("the same commit in two checkout directories", () => {
    const roots = [mkdtempSync(join(tmpdir(), "kubeforge-checkout-a-")), mkdtempSync(join(tmpdir(), "kubeforge-checkout-b-"))];
    const dirs = [join(roots[0]!, "kubeforge"), join(roots[1]!, "somewhere", "else", "kubeforge")];
    const runs = {} as Record<Stack, [Entry[], Entry[]]>;
    beforeAll(async () => {
        const [a, b] = dirs as [string, string];
        for (const dir of dirs) {
            mkdirSync(dir, { recursive: true });
            copyCheckout(dir);
        }
        for (const stack of STACKS) runs[stack] = [await synth(a, stack), await synth(b, stack)];
    }, 120_000);
    afterAll(() => {
        for (const root of roots) rmSync(root, { recursive: true, force: true });
    });

    it.each(["staging", "prod"] as const)("give %s identical inputs, none with either checkout's path", (stack) => {
        const [a, b] = runs[stack];
        expect(b).toEqual(a);
        expect(mentions(a, [...dirs, PROJECT_ROOT])).toEqual([]);
        expect(a.filter((e) => e.type === "docker:index/image:Image")).toHaveLength(3);
    });

    it("give dev identical image inputs, none with either checkout's path", () => {
        const [a, b] = runs.dev.map(imageInputs) as [Entry[], Entry[]];
        expect(a.map((e) => e.type)).toEqual(expect.arrayContaining(["kubeforge:image:ServiceImage", "pulumi-nodejs:dynamic:Resource", "docker:index/image:Image"]));
        expect(b).toEqual(a);
        expect(mentions(a, [...dirs, PROJECT_ROOT])).toEqual([]);
    });
});
