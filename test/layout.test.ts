// The layout issue (#10): the cluster interface stands apart from the flavours that implement it,
// and no module of the program imports itself back through others.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../scripts/stack-files";

const COMPONENTS = join(PROJECT_ROOT, "components");

function sourceFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((entry) => {
        const file = join(dir, entry);
        if (statSync(file).isDirectory()) return sourceFiles(file);
        return file.endsWith(".ts") ? [file] : [];
    });
}

/** Relative imports of a module (`import ... from "./x"`, type-only ones included), as files. */
function localImports(file: string): string[] {
    const text = readFileSync(file, "utf8");
    return [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)].map((m) => {
        const target = resolve(dirname(file), m[1] ?? "");
        for (const candidate of [`${target}.ts`, join(target, "index.ts")]) {
            try {
                if (statSync(candidate).isFile()) return candidate;
            } catch {
                // try the next candidate
            }
        }
        throw new Error(`${relative(PROJECT_ROOT, file)} imports ${m[1]}, which is not a module`);
    });
}

/** Every import cycle reachable from `files`, each as the list of modules it passes through. */
function importCycles(files: string[]): string[][] {
    const graph = new Map<string, string[]>();
    const importsOf = (f: string): string[] => graph.get(f) ?? graph.set(f, localImports(f)).get(f) ?? [];
    const cycles: string[][] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (f: string): void => {
        state.set(f, "open");
        stack.push(f);
        for (const next of importsOf(f)) {
            if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
            else if (!state.has(next)) visit(next);
        }
        stack.pop();
        state.set(f, "done");
    };
    for (const f of files) if (!state.has(f)) visit(f);
    return cycles.map((c) => c.map((f) => relative(PROJECT_ROOT, f)));
}

describe("layout", () => {
    const files = [...sourceFiles(COMPONENTS), join(PROJECT_ROOT, "index.ts")];

    it("has no import cycle among the program's modules", () => {
        expect(importCycles(files)).toEqual([]);
    });

    it("finds a cycle when there is one (the check itself works)", () => {
        const dir = mkdtempSync(join(tmpdir(), "kubeforge-layout-"));
        try {
            mkdirSync(join(dir, "cluster"));
            writeFileSync(join(dir, "cluster", "index.ts"), 'import { KindCluster } from "./kind";\n');
            writeFileSync(join(dir, "cluster", "kind.ts"), 'import type { KubeCluster } from "./index";\n');
            expect(importCycles([join(dir, "cluster", "index.ts")]).map((c) => c.map((f) => f.replace(/^.*cluster\//, "")))).toEqual([["index.ts", "kind.ts", "index.ts"]]);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("has every flavour implement the interface from cluster/types.ts, never from the factory", () => {
        for (const f of ["kind/kind.ts", "eks/eks.ts", "existing/existing.ts"]) {
            const imports = localImports(join(COMPONENTS, "cluster", f)).map((i) => relative(COMPONENTS, i));
            expect(imports).not.toContain("cluster/index.ts");
            expect(imports).toContain("cluster/types.ts");
        }
    });

    it("keeps the cluster interface free of flavours, and each flavour's config free of its component", () => {
        const typesImports = localImports(join(COMPONENTS, "cluster", "types.ts"));
        expect(typesImports).toEqual([]);
        for (const flavour of ["kind", "eks", "existing"]) {
            const configImports = localImports(join(COMPONENTS, "cluster", flavour, "config.ts")).map((i) => relative(COMPONENTS, i));
            expect(configImports.filter((i) => !/^(formats\.ts|cluster\/eks\/values\.ts)$/.test(i))).toEqual([]);
        }
    });

    it("keeps the store's config block free of components, and the store out of the cluster interface", () => {
        const configImports = localImports(join(COMPONENTS, "store", "config.ts")).map((i) => relative(COMPONENTS, i));
        expect(configImports).toEqual(["formats.ts"]);
        // The EKS flavour offers its managed store through the interface; the store never imports a flavour.
        const storeImports = sourceFiles(join(COMPONENTS, "store")).flatMap((f) => localImports(f).map((i) => relative(COMPONENTS, i)));
        expect(storeImports.filter((i) => i.startsWith("cluster/") && i !== "cluster/types.ts")).toEqual([]);
    });

    it("reads stack config in components/config.ts alone", () => {
        const readers = files.filter((f) => /pulumi\.runtime\.allConfig|new pulumi\.Config\(/.test(readFileSync(f, "utf8")));
        expect(readers.map((f) => relative(PROJECT_ROOT, f))).toEqual(["components/config.ts"]);
    });
});
