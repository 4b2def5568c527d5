/**
 * What the Docker provider sees of each service image. @pulumi/docker v4.11.2 adds
 * `build.contextDigest`, a hash of the WHOLE build context, to every Image's inputs, and any
 * changed input rebuilds and pushes (see ./pulumi-docker-model.ts for the source). These tests
 * pin that fact with a model checked against the provider's own test cases, then prove over a
 * copy of the real services/ tree that each ServiceImage's provider inputs change exactly when
 * its own sources (or the shared kit) do, and that a tag already in the registry is never pushed.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageRegistry } from "../components/cluster/types";
import { buildInputs, contextFiles, ServiceImage } from "../components/image";
import { runUnderMocks } from "../scripts/mocks";
import { contextDigest, goFileModeString, walkOrder } from "./pulumi-docker-model";

const PROJECT = resolve(__dirname, "..");
const SERVICES = ["backend", "messages", "reports"] as const;
type Service = (typeof SERVICES)[number];

function write(root: string, path: string, content: string, mode?: number): void {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
    if (mode !== undefined) chmodSync(join(root, path), mode);
}

it("is the @pulumi/docker the model was read at: a bump re-reads provider/provider.go first", () => {
    const lock = JSON.parse(readFileSync(join(PROJECT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };
    expect(lock.packages["node_modules/@pulumi/docker"]!.version).toBe("4.11.2");
});

describe("the model of @pulumi/docker v4.11.2's build.contextDigest, on the provider's own test cases (provider/provider_test.go, provider/testdata)", () => {
    let dir: string;
    beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), "kubeforge-digest-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const dockerfile = "FROM scratch\n\nWORKDIR /app\n\nCOPY ./bar .\n";
    const app = 'console.log("Pulumi 💜");\n';
    const context = (name: string, files: Record<string, string>, modes: Record<string, number> = {}): string => {
        const root = join(dir, name);
        for (const [path, content] of Object.entries(files)) write(root, path, content, modes[path] ?? 0o644);
        return root;
    };
    const digest = (root: string, file = "Dockerfile") => contextDigest(root, join(root, file));

    it("TestHashIgnoresFile: files .dockerignore excludes do not count", () => {
        const base = context("ignores/basedir", { Dockerfile: dockerfile, "bar/app.js": app, "foo.txt": "bar\n" });
        const ignored = context("ignores/basedir-with-ignored-files", {
            ".dockerignore": ".dockerignore\nignored.txt\nbar/ignored.js\n", Dockerfile: dockerfile, "bar/app.js": app, "bar/ignored.js": "", "foo.txt": "bar\n", "ignored.txt": "",
        });
        expect(digest(ignored)).toBe(digest(base));
    });

    it("TestHashIgnoresWildcards: `*` then `!projects/*/src` keeps src files only", () => {
        const ignore = "# Ignore everything!\n*\n\n# Except changes to source data in this set of directories:\n!projects/*/src\n";
        const base = context("wild/basedir", { ".dockerignore": ignore, Dockerfile: dockerfile, "projects/foo/src/app.js": app });
        const ignoredChange = context("wild/modified-ignored", { ".dockerignore": ignore, Dockerfile: dockerfile, "projects/foo/src/app.js": app, "projects/foo/dist/app.js": "changed" });
        const includedChange = context("wild/modified-included", { ".dockerignore": ignore, Dockerfile: dockerfile, "projects/foo/src/app.js": 'console.log("💜 Pulumi (included)");\n' });
        expect(digest(ignoredChange)).toBe(digest(base));
        expect(digest(includedChange)).not.toBe(digest(base));
    });

    it("TestHashUnignoredDirs: `*` then `!Dockerfile` and `!top-dir` is the same as no ignore file", () => {
        const files = { Dockerfile: dockerfile, "top-dir/subdir/app.js": app, "top-dir/subdir/ignored.js": "" };
        const base = context("unignores/basedir", files);
        const unignored = context("unignores/basedir-with-unignored-files", { ...files, ".dockerignore": "# Ignore everything\n*\n\n#Unignore everything\n!Dockerfile\n!top-dir\n" });
        expect(digest(unignored)).toBe(digest(base));
    });

    it("TestHashIgnoresDockerfileOutsideDirMove: a Dockerfile outside the context counts by content, not by name or place", () => {
        const root = context("location", { "app/foo.sh": "echo foo\n", "step1.Dockerfile": dockerfile, "step2.Dockerfile": dockerfile });
        expect(contextDigest(join(root, "app"), join(root, "step2.Dockerfile"))).toBe(contextDigest(join(root, "app"), join(root, "step1.Dockerfile")));
        write(root, "step2.Dockerfile", `${dockerfile}USER 1\n`);
        expect(contextDigest(join(root, "app"), join(root, "step2.Dockerfile"))).not.toBe(contextDigest(join(root, "app"), join(root, "step1.Dockerfile")));
    });

    it("TestHashRenamingMatters and TestHashFilemodeMatters: a file's name and its mode count", () => {
        const a = context("renaming/step1", { Dockerfile: dockerfile, "foo.a.txt": "foo\n" });
        const b = context("renaming/step2", { Dockerfile: dockerfile, "foo.b.txt": "foo\n" });
        expect(digest(b)).not.toBe(digest(a));
        const plain = context("filemode/step1", { Dockerfile: dockerfile, "foo.sh": "echo foo\n" });
        const executable = context("filemode/step2-chmod-x", { Dockerfile: dockerfile, "foo.sh": "echo foo\n" }, { "foo.sh": 0o755 });
        expect(digest(executable)).not.toBe(digest(plain));
    });

    it("a relative context path gives the digest of the absolute one (TestHashIgnoresWildcardsRelative): no checkout path inside", () => {
        const root = context("relative", { Dockerfile: dockerfile, "bar/app.js": app });
        expect(contextDigest(relative(process.cwd(), root), relative(process.cwd(), join(root, "Dockerfile")))).toBe(digest(root));
    });

    it("encodes Go's fs.FileMode.String() and filepath.WalkDir's order", () => {
        expect([0, 0o644, 0o755, 0o600].map(goFileModeString)).toEqual(["----------", "-rw-r--r--", "-rwxr-xr-x", "-rw-------"]);
        // WalkDir sorts each directory's names: "a" (and all below it) comes before "a-b", unlike a plain sort of full paths.
        expect(["a-b", "a/x", "a.c"].sort(walkOrder)).toEqual(["a/x", "a-b", "a.c"]);
    });
});

/** A copy of the project's services/ tree (sources, manifests, Dockerfiles; no node_modules or builds). */
function copyServices(to: string): void {
    cpSync(join(PROJECT, "services"), join(to, "services"), {
        recursive: true,
        filter: (src) => !/(^|\/)(node_modules|dist)(\/|$)|\.tsbuildinfo$/.test(src.slice(PROJECT.length)),
    });
}

describe("the shared services/ context, as @pulumi/docker v4.11.2 would see it (the defect)", () => {
    it("changes backend's contextDigest when only messages' code changes", () => {
        const root = mkdtempSync(join(tmpdir(), "kubeforge-shared-"));
        try {
            copyServices(root);
            const backend = () => contextDigest(join(root, "services"), join(root, "services/backend/Dockerfile"));
            const before = backend();
            write(root, "services/messages/src/app.ts", `${readFileSync(join(root, "services/messages/src/app.ts"), "utf8")}\n// changed\n`);
            expect(backend()).not.toBe(before);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});

/** What the Docker provider gets for one image: the inputs as declared, plus the contextDigest its Check adds. */
interface ProviderInputs {
    imageName: string;
    build: { context: string; dockerfile: string; platform: string; args: Record<string, string> };
    skipPush: boolean;
    contextDigest: string;
}

interface ImagesRun {
    inputs: Record<Service, ProviderInputs>;
    refs: Record<Service, string>;
}

/**
 * The three ServiceImages of `root` under Pulumi mocks, as the kind flavour declares them
 * (registry `localhost:5001`, platform linux/amd64); `held` fakes what RegistryTag found in the
 * registry (a digest per image name).
 */
async function images(root: string, held: Record<string, string> = {}): Promise<ImagesRun> {
    const registry: ImageRegistry = { repository: (service) => pulumi.output(`localhost:5001/${service}`), platform: "linux/amd64" };
    const run = await runUnderMocks("dev", {}, async () => Object.fromEntries(SERVICES.map((service) => [service, new ServiceImage(service, {
        service,
        build: { context: "services", dockerfile: `services/${service}/Dockerfile`, args: {} },
        registry,
        root,
    }).ref])), "kubeforge", { override: (type, _name, inputs) => (type === "pulumi-nodejs:dynamic:Resource" && held[String(inputs.image)] ? { digest: held[String(inputs.image)] } : undefined) });
    const inputs = {} as Record<Service, ProviderInputs>;
    for (const service of SERVICES) {
        const image = run.resources.find((r) => r.name === `${service}-image`)!.inputs as unknown as Omit<ProviderInputs, "contextDigest">;
        inputs[service] = { ...image, contextDigest: contextDigest(join(root, image.build.context), join(root, image.build.dockerfile)) };
    }
    return { inputs, refs: run.outputs as Record<Service, string> };
}

describe("ServiceImage on a copy of the real services/ tree", () => {
    let root: string;
    beforeAll(() => {
        root = mkdtempSync(join(tmpdir(), "kubeforge-images-"));
        copyServices(root);
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    const edit = (path: string) => write(root, path, `${readFileSync(join(root, path), "utf8")}\n// edited by the test\n`);
    const changed = (a: ImagesRun, b: ImagesRun) => SERVICES.filter((s) => JSON.stringify(a.inputs[s]) !== JSON.stringify(b.inputs[s]));

    it("gives the provider relative paths only, an explicit platform, and a generated context of exactly the tag's files (no ignore file)", async () => {
        const run = await images(root);
        for (const service of SERVICES) {
            const { build, imageName } = run.inputs[service];
            const tag = imageName.split(":").pop()!;
            expect(build).toEqual({ context: `.kubeforge/dev/images/${service}-${tag}`, dockerfile: `services/${service}/Dockerfile`, platform: "linux/amd64", args: {} });
            const generated = join(root, build.context);
            expect(contextFiles(generated)).toEqual(buildInputs({ context: "services", dockerfile: `services/${service}/Dockerfile`, args: {} }, root).files);
            // Nothing for the provider's getIgnorePatterns to read: it hashes and sends every generated file.
            expect([join(generated, ".dockerignore"), join(root, `${build.dockerfile}.dockerignore`)].some(existsSync)).toBe(false);
        }
    });

    it("gives identical provider inputs for an unchanged tree", async () => {
        const [a, b] = [await images(root), await images(root)];
        expect(b.inputs).toEqual(a.inputs);
        expect(b.refs).toEqual(a.refs);
    });

    it("changes only messages' provider inputs (tag, context, contextDigest) when services/messages/src changes", async () => {
        const before = await images(root);
        edit("services/messages/src/app.ts");
        const after = await images(root);
        expect(changed(before, after)).toEqual(["messages"]);
        const [old, now] = [before.inputs.messages, after.inputs.messages];
        expect([now.imageName !== old.imageName, now.build.context !== old.build.context, now.contextDigest !== old.contextDigest]).toEqual([true, true, true]);
        expect({ backend: after.refs.backend, reports: after.refs.reports }).toEqual({ backend: before.refs.backend, reports: before.refs.reports });
        // The old tag's context is gone, the new one is there.
        expect([existsSync(join(root, old.build.context)), existsSync(join(root, now.build.context))]).toEqual([false, true]);
    });

    it("changes all three when the shared kit changes", async () => {
        const before = await images(root);
        edit("services/kit/src/errors.ts");
        expect(changed(before, await images(root))).toEqual([...SERVICES]);
    });

    it("changes the tag whenever the provider's contextDigest changes: a mode change re-tags too", async () => {
        const before = await images(root);
        chmodSync(join(root, "services/reports/src/main.ts"), 0o755);
        const after = await images(root);
        expect(changed(before, after)).toEqual(["reports"]);
        expect(after.inputs.reports.imageName).not.toBe(before.inputs.reports.imageName);
        expect(after.inputs.reports.contextDigest).not.toBe(before.inputs.reports.contextDigest);
    });

    it("never pushes a tag the registry already holds: it deploys that digest and only builds locally", async () => {
        const first = await images(root);
        for (const service of SERVICES) expect(first.inputs[service].skipPush, service).toBe(false);
        const held = `sha256:${"a".repeat(64)}`;
        const again = await images(root, { [first.inputs.messages.imageName]: held });
        expect(again.inputs.messages.skipPush).toBe(true);
        expect(again.refs.messages).toBe(`localhost:5001/messages@${held}`);
        expect({ backend: again.inputs.backend.skipPush, reports: again.inputs.reports.skipPush }).toEqual({ backend: false, reports: false });
    });

    it("builds and pushes with the Docker provider the component is given, and asks the registry from the program's machine", async () => {
        const run = await runUnderMocks("dev", {}, async () => {
            const laptop = new docker.Provider("laptop-docker", { host: "unix:///run/user/1000/docker.sock" });
            const registry: ImageRegistry = { repository: (service) => pulumi.output(`localhost:5001/${service}`) };
            new ServiceImage("messages", { service: "messages", build: { context: "services", dockerfile: "services/messages/Dockerfile", args: {} }, registry, root }, { provider: laptop });
            return {};
        });
        const named = (name: string) => run.resources.find((r) => r.name === name)!;
        expect(named("messages-image").options.provider).toMatch(/::laptop-docker::/);
        expect(named("messages-tag").options.provider).not.toMatch(/laptop-docker/);
    });
});
