/**
 * Static checks of the three images (no Docker engine here): parsed with dockerfile-ast, each
 * Dockerfile must be multi-stage on a version-pinned small base, install production
 * dependencies only, run as UID/GID 10001 with node as PID 1, start what `npm start` starts,
 * and copy only paths that exist in the build context.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Copy, DockerfileParser, type Instruction } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import { baseEnv, loadEnv } from "../src";
import { SERVICES_DIR } from "./support";

const SERVICES = ["backend", "messages", "reports"];

function read(name: string): string {
    return readFileSync(join(SERVICES_DIR, name, "Dockerfile"), "utf8");
}

/** The instructions of each stage, in order. */
function stages(content: string): Instruction[][] {
    const result: Instruction[][] = [];
    for (const instruction of DockerfileParser.parse(content).getInstructions()) {
        if (instruction.getKeyword() === "FROM") result.push([]);
        result.at(-1)?.push(instruction);
    }
    return result;
}

const args = (i: Instruction) => i.getExpandedArguments().map((a) => a.getValue());

describe.each(SERVICES)("%s/Dockerfile", (name) => {
    const dockerfile = DockerfileParser.parse(read(name));
    const [build, runtime, ...more] = stages(read(name));

    it("builds the service it is named after", () => {
        const service = dockerfile.getInitialARGs().find((a) => a.getProperty()?.getName() === "SERVICE");
        expect(service?.getProperty()?.getValue()).toBe(name);
    });

    it("has a build stage and a runtime stage on the same version-pinned alpine node image", () => {
        expect(more).toEqual([]);
        const images = dockerfile.getFROMs().map((f) => args(f)[0]);
        expect(args(dockerfile.getFROMs()[0]!)).toEqual([images[0], "AS", "build"]);
        expect(images[1]).toBe(images[0]);
        expect(images[0]).toMatch(/^node:\d+\.\d+\.\d+-alpine\d+\.\d+$/);
    });

    it("installs only production dependencies for the runtime", () => {
        const runs = build!.filter((i) => i.getKeyword() === "RUN").map((i) => i.getArgumentsContent() ?? "");
        expect(runs.some((r) => /npm ci --omit=dev --workspace \$\{SERVICE\}/.test(r))).toBe(true);
        const runtimeRuns = runtime!.filter((i) => i.getKeyword() === "RUN").map((i) => i.getArgumentsContent() ?? "");
        expect(runtimeRuns.join("\n")).not.toMatch(/npm (ci|install)/);
        const sources = runtime!.filter((i): i is Copy => i.getKeyword() === "COPY").map((c) => c.getFromFlag()?.getValue());
        expect(sources.length).toBeGreaterThan(0);
        expect(sources.every((from) => from === "build")).toBe(true);
        expect(runtime!.some((i) => i.getKeyword() === "ENV" && /NODE_ENV=production/.test(i.getArgumentsContent() ?? ""))).toBe(true);
    });

    it("runs as 10001:10001 with node itself as PID 1, starting what npm start starts", () => {
        const last = (keyword: string) => runtime!.filter((i) => i.getKeyword() === keyword).at(-1);
        expect(last("USER")?.getArgumentsContent()).toBe("10001:10001");
        expect(JSON.parse(last("ENTRYPOINT")?.getArgumentsContent() ?? "null")).toEqual(["node", "--enable-source-maps"]);
        expect(JSON.parse(last("CMD")?.getArgumentsContent() ?? "null")).toEqual(["dist/main.js"]);
        const pkg = JSON.parse(readFileSync(join(SERVICES_DIR, name, "package.json"), "utf8")) as { scripts: Record<string, string> };
        expect(pkg.scripts.start).toBe("node dist/main.js");
        expect(existsSync(join(SERVICES_DIR, name, "src", "main.ts"))).toBe(true);
    });

    it("exposes the default PORT and METRICS_PORT", () => {
        const defaults = loadEnv(baseEnv, {});
        const exposed = runtime!.filter((i) => i.getKeyword() === "EXPOSE").flatMap(args);
        expect(exposed).toEqual([String(defaults.PORT), String(defaults.METRICS_PORT)]);
    });

    it("copies only paths that exist in the build context", () => {
        for (const copy of build!.filter((i): i is Copy => i.getKeyword() === "COPY")) {
            const paths = args(copy).map((p) => p.replace("${SERVICE}", name));
            for (const source of paths.slice(0, -1)) expect(existsSync(join(SERVICES_DIR, source)), source).toBe(true);
        }
    });
});

describe("the three Dockerfiles", () => {
    it("differ only in SERVICE (and the header naming it)", () => {
        const body = (name: string) => read(name).split(`ARG SERVICE=${name}\n`)[1];
        expect(body("messages")).toBe(body("backend"));
        expect(body("reports")).toBe(body("backend"));
    });

    it("share a .dockerignore that keeps dependencies, outputs and tests out of the context", () => {
        const ignored = readFileSync(join(SERVICES_DIR, ".dockerignore"), "utf8").split("\n");
        expect(ignored).toEqual(expect.arrayContaining(["**/node_modules", "**/dist", "**/test"]));
    });
});
