/**
 * The image tag: a hash of what can change a service's image. On a context shared by several
 * services (real temporary directories, and the real services/ tree) a change re-tags exactly
 * the services whose Dockerfile takes the changed file.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildHash, buildInputs, contextFiles, defaultPlatform, dockerfileSources, generatedContextPath, ignoreFile, pruneBuildContexts, sourceMatcher, writeBuildContext } from "../components/image";
import type { BuildSettings } from "../components/config";

const SERVICES = ["a", "b", "c"] as const;
const PLATFORM = "linux/amd64";

/** A Dockerfile shaped like services/<name>/Dockerfile: shared manifests and kit, its own directory. */
const serviceDockerfile = (name: string) => `# syntax=docker/dockerfile:1
ARG SERVICE=${name}
FROM node:24-alpine AS build
ARG SERVICE
WORKDIR /src
COPY package.json package-lock.json ./
COPY kit/ kit/
COPY \${SERVICE}/ $SERVICE/
RUN npm ci && npx tsc -b \${SERVICE}

FROM node:24-alpine
ARG SERVICE
COPY --from=build /src/\${SERVICE}/dist /app/
`;

let root: string;

function write(path: string, content: string): void {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
}

const build = (name: string, more: Partial<BuildSettings> = {}): BuildSettings => ({ context: "ctx", dockerfile: `ctx/${name}/Dockerfile`, args: {}, ...more });
const hashes = () => Object.fromEntries(SERVICES.map((name) => [name, buildHash(build(name), root, PLATFORM)]));

beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "kubeforge-image-"));
    write("ctx/.dockerignore", "**/node_modules\n**/test\n**/Dockerfile\nnotes.md\n");
    write("ctx/package.json", '{"workspaces":["kit","a","b","c"]}');
    write("ctx/package-lock.json", "{}");
    write("ctx/notes.md", "not sent to Docker");
    write("ctx/kit/package.json", '{"name":"kit"}');
    write("ctx/kit/src/index.ts", "export const kit = 1;");
    for (const name of SERVICES) {
        write(`ctx/${name}/Dockerfile`, serviceDockerfile(name));
        write(`ctx/${name}/package.json`, `{"name":"${name}"}`);
        write(`ctx/${name}/src/main.ts`, `console.log("${name}");`);
        write(`ctx/${name}/test/main.test.ts`, "test");
    }
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("buildHash on a context shared by three services", () => {
    it("re-tags only the service whose Dockerfile copies the changed or added file", () => {
        const before = hashes();
        write("ctx/a/src/main.ts", 'console.log("a, changed");');
        const changed = hashes();
        expect(changed.a).not.toBe(before.a);
        expect({ b: changed.b, c: changed.c }).toEqual({ b: before.b, c: before.c });
        write("ctx/b/src/new.ts", "export {};");
        const added = hashes();
        expect(added.b).not.toBe(changed.b);
        expect({ a: added.a, c: added.c }).toEqual({ a: changed.a, c: changed.c });
    });

    it("re-tags all three when the shared kit or a shared manifest changes", () => {
        for (const [file, content] of [["ctx/kit/src/index.ts", "export const kit = 2;"], ["ctx/package-lock.json", '{"lockfileVersion":3}']] as const) {
            const before = hashes();
            write(file, content);
            const after = hashes();
            for (const name of SERVICES) expect(after[name], `${name} after ${file}`).not.toBe(before[name]);
        }
    });

    it("keeps every tag when a file .dockerignore excludes, or no Dockerfile copies, changes", () => {
        const before = hashes();
        write("ctx/a/test/main.test.ts", "changed");
        write("ctx/a/node_modules/dep/index.js", "new");
        write("ctx/notes.md", "changed");
        write("ctx/unrelated/file.txt", "no Dockerfile copies this");
        expect(hashes()).toEqual(before);
    });

    it("re-tags when the Dockerfile, a build arg or the target changes", () => {
        const before = buildHash(build("a"), root, PLATFORM);
        expect(buildHash(build("a", { args: { EXTRA: "1" } }), root, PLATFORM)).not.toBe(before);
        expect(buildHash(build("a", { args: { EXTRA: "2" } }), root, PLATFORM)).not.toBe(buildHash(build("a", { args: { EXTRA: "1" } }), root, PLATFORM));
        expect(buildHash(build("a", { target: "build" }), root, PLATFORM)).not.toBe(before);
        write("ctx/a/Dockerfile", `${serviceDockerfile("a")}USER 10001\n`);
        expect(buildHash(build("a"), root, PLATFORM)).not.toBe(before);
    });

    it("substitutes build args for ARG defaults: a's Dockerfile built with SERVICE=b takes b's files", () => {
        const asB = () => buildHash(build("a", { args: { SERVICE: "b" } }), root, PLATFORM);
        const before = asB();
        write("ctx/a/src/main.ts", "changed");
        expect(asB()).toBe(before);
        write("ctx/b/src/main.ts", "changed");
        expect(asB()).not.toBe(before);
        expect(buildInputs(build("a", { args: { SERVICE: "b" } }), root).files).toContain("b/src/main.ts");
    });

    it("counts the stages up to the target only", () => {
        write("ctx/a/Dockerfile", `${serviceDockerfile("a")}\nFROM build AS test\nCOPY fixtures/ fixtures/\n`);
        write("ctx/fixtures/data.json", "1");
        const upToBuild = buildHash(build("a", { target: "build" }), root, PLATFORM);
        const all = buildHash(build("a"), root, PLATFORM);
        write("ctx/fixtures/data.json", "2");
        expect(buildHash(build("a", { target: "build" }), root, PLATFORM)).toBe(upToBuild);
        expect(buildHash(build("a"), root, PLATFORM)).not.toBe(all);
    });

    it("hashes the whole filtered context when a source is not known before the build", () => {
        write("ctx/a/Dockerfile", "FROM node:24-alpine\nCOPY $FROM_THE_BASE_IMAGE/ /app/\n");
        const inputs = buildInputs(build("a"), root);
        expect(inputs.wholeContext).toMatch(/FROM_THE_BASE_IMAGE/);
        expect(inputs.files).toEqual(contextFiles(join(root, "ctx")));
        const before = buildHash(build("a"), root, PLATFORM);
        write("ctx/b/src/main.ts", "changed");
        expect(buildHash(build("a"), root, PLATFORM)).not.toBe(before);
        const changed = buildHash(build("a"), root, PLATFORM);
        write("ctx/b/test/main.test.ts", "still ignored by .dockerignore");
        expect(buildHash(build("a"), root, PLATFORM)).toBe(changed);
    });
});

describe("what else the tag covers", () => {
    let hashesBefore: Record<string, string>;
    beforeEach(() => {
        hashesBefore = hashes();
    });

    it("re-tags on the platform, and when a file it covers becomes executable (the mode Docker copies)", () => {
        const before = buildHash(build("a"), root, PLATFORM);
        expect(buildHash(build("a"), root, "linux/arm64")).not.toBe(before);
        chmodSync(join(root, "ctx/a/src/main.ts"), 0o755);
        const executable = buildHash(build("a"), root, PLATFORM);
        expect(executable).not.toBe(before);
        // Only the execute bit counts (git's two modes): a group-writable checkout tags the same.
        chmodSync(join(root, "ctx/a/src/main.ts"), 0o775);
        expect(buildHash(build("a"), root, PLATFORM)).toBe(executable);
        expect(buildHash(build("b"), root, PLATFORM)).toBe(hashesBefore.b);
    });

    it("reads <Dockerfile>.dockerignore before the context's .dockerignore, as Docker and the provider do", () => {
        write("ctx/a/Dockerfile.dockerignore", "**/node_modules\n**/test\nkit/src/extra.ts\n");
        write("ctx/kit/src/extra.ts", "export {};");
        expect(buildInputs(build("a"), root).files).not.toContain("kit/src/extra.ts");
        expect(buildInputs(build("b"), root).files).toContain("kit/src/extra.ts");
        // The context's .dockerignore no longer applies to a: notes.md is sent (but not copied).
        expect(contextFiles(join(root, "ctx"), join(root, "ctx/a/Dockerfile"))).toContain("notes.md");
        expect(ignoreFile(join(root, "ctx"), join(root, "ctx/a/Dockerfile"))).toBe(join(root, "ctx/a/Dockerfile.dockerignore"));
        expect(ignoreFile(join(root, "ctx"), join(root, "ctx/b/Dockerfile"))).toBe(join(root, "ctx/.dockerignore"));
    });

    it("refuses a symbolic link among the files a build reads, naming it", () => {
        symlinkSync("main.ts", join(root, "ctx/a/src/link.ts"));
        expect(() => buildInputs(build("a"), root)).toThrow(/^a\/src\/link\.ts is a symbolic link; replace it with the file, or leave it out in the \.dockerignore$/);
        // Not read by b's Dockerfile: no problem for b.
        expect(buildInputs(build("b"), root).files).not.toContain("a/src/link.ts");
    });

    it("names the default platform the provider would pick, in Go's architecture names", () => {
        expect(["x64", "arm64", "arm", "ia32", "ppc64", "s390x"].map((arch) => defaultPlatform(arch))).toEqual(["linux/amd64", "linux/arm64", "linux/arm", "linux/386", "linux/ppc64le", "linux/s390x"]);
        expect(() => defaultPlatform("mips")).toThrow(/^cannot tell the Docker platform of this machine \(Node\.js reports arch mips\); known: x64, /);
    });
});

describe("the generated build context", () => {
    const inputsOf = (name: string) => buildInputs(build(name), root);

    it("holds exactly the files the tag covers, with modes 0644 or 0755 whatever the umask left", () => {
        chmodSync(join(root, "ctx/a/src/main.ts"), 0o700);
        chmodSync(join(root, "ctx/kit/src/index.ts"), 0o664);
        const dest = join(root, generatedContextPath("dev", "a", "0123456789abcdef"));
        writeBuildContext(join(root, "ctx"), inputsOf("a").files, dest);
        expect(contextFiles(dest)).toEqual(inputsOf("a").files);
        expect(statSync(join(dest, "a/src/main.ts")).mode & 0o777).toBe(0o755);
        expect(statSync(join(dest, "kit/src/index.ts")).mode & 0o777).toBe(0o644);
        expect(readFileSync(join(dest, "kit/src/index.ts"), "utf8")).toBe("export const kit = 1;");
        expect(readdirSync(dirname(dest))).toEqual(["a-0123456789abcdef"]);
    });

    it("is reused when it exists (it is named for its tag) and never left half-written", () => {
        const dest = join(root, generatedContextPath("dev", "a", "0123456789abcdef"));
        writeBuildContext(join(root, "ctx"), inputsOf("a").files, dest);
        write("ctx/a/src/main.ts", "changed, but this tag's directory already holds its files");
        writeBuildContext(join(root, "ctx"), inputsOf("a").files, dest);
        expect(readFileSync(join(dest, "a/src/main.ts"), "utf8")).toBe('console.log("a");');
        const broken = join(root, generatedContextPath("dev", "b", "fedcba9876543210"));
        expect(() => writeBuildContext(join(root, "ctx"), ["b/src/missing.ts"], broken)).toThrow(/ENOENT/);
        expect(readdirSync(dirname(broken))).toEqual(["a-0123456789abcdef"]);
    });

    it("prunes only the same service's other tags, and stale half-written ones", () => {
        const parent = join(root, ".kubeforge/dev/images");
        for (const dir of ["a-0000000000000000", "a-1111111111111111", "a-2222222222222222.tmp-1-ab", "a-3333333333333333.tmp-2-cd", "ab-4444444444444444", "a-b-5555555555555555"]) {
            mkdirSync(join(parent, dir), { recursive: true });
        }
        const hourAgo = new Date(Date.now() - 2 * 3_600_000);
        utimesSync(join(parent, "a-2222222222222222.tmp-1-ab"), hourAgo, hourAgo);
        pruneBuildContexts(parent, "a", join(parent, "a-1111111111111111"));
        expect(readdirSync(parent).sort()).toEqual(["a-1111111111111111", "a-3333333333333333.tmp-2-cd", "a-b-5555555555555555", "ab-4444444444444444"]);
    });
});

describe("dockerfileSources", () => {
    const sources = (dockerfile: string, args: Record<string, string> = {}, target?: string) => dockerfileSources(dockerfile, { args, target });

    it.each([
        ["the context root", "FROM x\nCOPY . .\n", {}, [""]],
        ["no --from copies (a stage or an image)", "FROM x AS build\nFROM y\nCOPY --from=build /a /b\nCOPY --from=node:24 /c /d\n", {}, []],
        ["ARG defaults and ENV values", "FROM x\nARG D=lib\nENV E=src\nCOPY $D/${E}/*.json ./\n", {}, ["lib/src/*.json"]],
        ["a build arg over the ARG default", "FROM x\nARG D=lib\nCOPY ${D}/ ./\n", { D: "other" }, ["other"]],
        ["the value of the ARG before FROM, redeclared in the stage", "ARG D=global\nFROM x\nARG D\nCOPY $D ./\n", {}, ["global"]],
        ["ENV over an ARG of the same name", "FROM x\nENV D=env\nARG D=arg\nCOPY $D ./\n", { D: "cli" }, ["env"]],
        ["JSON form, normalized inside the context", 'FROM x\nCOPY ["my file.txt", "/abs/../dir/", "/app/"]\n', {}, ["my file.txt", "dir"]],
        ["ADD of a local file", "FROM x\nADD vendor.tar.gz /opt/\n", {}, ["vendor.tar.gz"]],
        ["sources over continuation lines", "FROM x\nCOPY a \\\n  b /dst/\n", {}, ["a", "b"]],
        [
            "RUN bind mounts from the context",
            "FROM x\nRUN --mount=type=bind,source=kit,target=/k --mount=type=cache,target=/c --mount=type=bind,from=x,target=/x --mount=target=/all make\n",
            {},
            ["kit", ""],
        ],
    ])("resolves %s", (_what, dockerfile, args, paths) => {
        expect(sources(dockerfile, args)).toEqual({ paths });
    });

    it.each([
        ["an undeclared variable", "FROM x\nCOPY $NOPE/ ./\n", /NOPE/],
        ["an ARG before FROM not redeclared in the stage", "ARG S=a\nFROM x\nCOPY $S ./\n", /line 3: \$S has no value/],
        ["an ARG without default or build arg", "FROM x\nARG S\nCOPY ${S} ./\n", /\$\{S\} has no value/],
        ["an ENV set from another variable", "FROM x\nARG A=1\nENV B=$A\nCOPY $B ./\n", /\$B has no value/],
        ["a substitution modifier", "FROM x\nARG S=a\nCOPY ${S:-b} ./\n", /\$\{S:-b\} has no value/],
        ["a URL in ADD", "FROM x\nADD https://example.com/a.tgz /x/\n", /example\.com/],
        ["a Git source in ADD", "FROM x\nADD git@github.com:o/r.git /x/\n", /git@/],
        ["a heredoc", "FROM x\nCOPY <<EOF /x\nhello\nEOF\n", /heredoc/],
        ["a character class", "FROM x\nCOPY [ab].txt ./\n", /\[ab\]/],
        ["**", "FROM x\nCOPY **/*.ts ./\n", /\*\*/],
        ["a quoted source", 'FROM x\nCOPY "a b" ./\n', /quoted/],
        ["an escaped space", "FROM x\nCOPY a\\ b ./\n", /escaped/],
        ["a variable in JSON form", 'FROM x\nARG S=a\nCOPY ["$S", "./"]\n', /JSON/],
        ["an unknown target", "FROM x AS build\nCOPY a ./\n", /target "nope"/, "nope"],
    ])("falls back to the whole context for %s", (_what, dockerfile, message, target?: string) => {
        const result = sources(dockerfile, {}, target);
        expect(result).toEqual({ wholeContext: expect.stringMatching(message) });
    });
});

describe("sourceMatcher", () => {
    it("takes a path or everything below it, never a sibling sharing its prefix", () => {
        const kit = sourceMatcher("kit");
        expect(["kit", "kit/a.ts", "kit/src/b.ts"].filter(kit)).toEqual(["kit", "kit/a.ts", "kit/src/b.ts"]);
        expect(["kitchen/a.ts", "kit.json", "src/kit/a.ts"].some(kit)).toBe(false);
        expect(["a", "b/c"].every(sourceMatcher(""))).toBe(true);
    });

    it("matches * and ? within one segment, dot files included, other characters literally", () => {
        const json = sourceMatcher("*.json");
        expect(["package.json", ".eslintrc.json", "dir.json/inner.ts"].every(json)).toBe(true);
        expect(["kit/package.json", "package.jsonc"].some(json)).toBe(false);
        expect(sourceMatcher("kit/*/index.?s")("kit/src/index.ts")).toBe(true);
        expect(sourceMatcher("kit/*/index.?s")("kit/src/deep/index.ts")).toBe(false);
        expect(sourceMatcher("a+*.txt")("a+b.txt")).toBe(true);
        expect(sourceMatcher("a+*.txt")("aab.txt")).toBe(false);
    });
});

describe("the services/ tree", () => {
    const project = resolve(__dirname, "..");
    const real = (name: string): BuildSettings => ({ context: "services", dockerfile: `services/${name}/Dockerfile`, args: {} });
    const names = ["backend", "messages", "reports"];

    it("gives each service its own stable 16-hex-digit tag", () => {
        const tags = names.map((name) => buildHash(real(name), project, PLATFORM));
        expect(names.map((name) => buildHash(real(name), project, PLATFORM))).toEqual(tags);
        for (const tag of tags) expect(tag).toMatch(/^[0-9a-f]{16}$/);
        expect(new Set(tags).size).toBe(3);
    });

    it.each(names)("hashes %s's code, the kit and the shared manifests, not the other services' code", (name) => {
        const { files, wholeContext } = buildInputs(real(name), project);
        expect(wholeContext).toBeUndefined();
        expect(files).toEqual(expect.arrayContaining([`${name}/src/main.ts`, "kit/src/index.ts", "package-lock.json", ...names.map((n) => `${n}/package.json`)]));
        for (const other of names.filter((n) => n !== name)) expect(files.filter((f) => f.startsWith(`${other}/`))).toEqual([`${other}/package.json`]);
        expect(files.some((f) => f.includes("/test/") || f.includes("node_modules"))).toBe(false);
    });
});
