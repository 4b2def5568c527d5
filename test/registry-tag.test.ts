/**
 * RegistryTag's lookup against a real registry (distribution 2.8, the registry the kind flavour
 * runs; with htpasswd, the Basic challenge ECR sends), and its dynamic provider: asked once per
 * tag, never again for new credentials alone.
 */
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { challengeScheme, lookupTag, parseImageName, RegistryTag, registryScheme, registryTagProvider } from "../components/registry-tag";
import { runUnderMocks } from "../scripts/mocks";
import { PROJECT_ROOT } from "../scripts/stack-files";
import { freePort } from "../services/kit/test/support";
import { RegistryServer } from "./registry-server";

describe("image names and challenges", () => {
    it.each([
        ["localhost:5001/backend:0123456789abcdef", { host: "localhost:5001", path: "backend", tag: "0123456789abcdef" }],
        ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/kubeforge-staging/backend:abc", { host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", path: "kubeforge-staging/backend", tag: "abc" }],
        ["acme/backend:1", { host: "registry-1.docker.io", path: "acme/backend", tag: "1" }],
        ["redis:7", { host: "registry-1.docker.io", path: "library/redis", tag: "7" }],
    ])("parses %s", (image, parsed) => {
        expect(parseImageName(image)).toEqual(parsed);
    });

    it("refuses a name without a tag", () => {
        expect(() => parseImageName("localhost:5001/backend")).toThrow(/^localhost:5001\/backend has no tag$/);
    });

    it("talks HTTP to loopback registries only, as Docker does", () => {
        expect(["localhost:5001", "127.0.0.1:5001", "[::1]:5000", "ghcr.io", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"].map(registryScheme)).toEqual(["http", "http", "http", "https", "https"]);
    });

    it("reads the scheme of ECR's Basic challenge and of a Bearer one", () => {
        expect(challengeScheme('Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"')).toBe("basic");
        expect(challengeScheme('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/a:pull"')).toBe("bearer");
        expect(challengeScheme("")).toBe("");
    });
});

describe("lookupTag against a real registry without authentication (the kind flavour's)", () => {
    let registry: RegistryServer;
    beforeAll(async () => {
        registry = await RegistryServer.start();
    });
    afterAll(() => registry.stop());

    it("finds the digest a pushed tag names, and nothing for a tag or repository it has not seen", async () => {
        const pushed = await registry.push("backend", "0123456789abcdef", "layer one");
        expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(await lookupTag(`${registry.host}/backend:0123456789abcdef`)).toEqual({ digest: pushed });
        expect(await lookupTag(`${registry.host.replace("127.0.0.1", "localhost")}/backend:0123456789abcdef`)).toEqual({ digest: pushed });
        expect(await lookupTag(`${registry.host}/backend:fedcba9876543210`)).toEqual({ digest: "" });
        expect(await lookupTag(`${registry.host}/never-pushed:0123456789abcdef`)).toEqual({ digest: "" });
    });

    it("answers through the dynamic provider: asks on create and on a new tag, not for new credentials", async () => {
        const pushed = await registry.push("messages", "1111111111111111", "layer two");
        const image = `${registry.host}/messages:1111111111111111`;
        const created = await registryTagProvider.create!({ image });
        expect(created).toEqual({ id: image, outs: { image, digest: pushed } });
        const olds = created.outs as Record<string, unknown>;
        expect(await registryTagProvider.diff!(image, olds, { image, credentials: { server: registry.host, username: "AWS", password: "rotated" } })).toEqual({ changes: false });
        expect(await registryTagProvider.diff!(image, olds, { image: `${registry.host}/messages:2222222222222222` })).toEqual({ changes: true });
        expect(await registryTagProvider.update!(image, olds, { image: `${registry.host}/messages:2222222222222222` })).toEqual({ outs: { image: `${registry.host}/messages:2222222222222222`, digest: "" } });
    });

    // The provider as the Pulumi CLI runs it. @pulumi/pulumi 3.270: cmd/run/run.js compiles the
    // program with ts-node and the project's tsconfig compilerOptions (CommonJS);
    // dynamic/index.js serializeProvider serializes the provider object with runtime/closure
    // serializeFunction(() => provider), in `pulumi preview` as in `up`;
    // cmd/dynamic-provider/index.js getProvider evaluates that text in the dynamic provider's own
    // process with require-from-string and calls `.handler()`.
    it("serializes, as the Pulumi CLI does, from the program as ts-node compiles it, and answers from another process with only that text", async () => {
        const pushed = await registry.push("backend", "5555555555555555", "layer five");
        const image = `${registry.host.replace("127.0.0.1", "localhost")}/backend:5555555555555555`;
        // A file, as the language host's program is (under `node -e`, `exports` is a global and
        // the serializer would leave it to the other side).
        const dir = mkdtempSync(join(tmpdir(), "kubeforge-serialize-"));
        const script = join(dir, "serialize.js");
        const projectRequire = createRequire(join(PROJECT_ROOT, "package.json"));
        writeFileSync(script, [
            `const ts = require(${JSON.stringify(projectRequire.resolve("typescript"))}), fs = require("fs"), path = require("path");`,
            'const cfg = ts.readConfigFile("tsconfig.json", ts.sys.readFile).config;',
            'const options = ts.convertCompilerOptionsFromJson({ ...cfg.compilerOptions, noEmit: false }, ".").options;',
            // What ts-node registers: .ts files compiled on require, kept in require.cache.
            'require.extensions[".ts"] = (module, file) => module._compile(ts.transpileModule(fs.readFileSync(file, "utf8"), { compilerOptions: options, fileName: file }).outputText, file);',
            'const provider = require(path.resolve("components/registry-tag.ts")).registryTagProvider;',
            `require(${JSON.stringify(projectRequire.resolve("@pulumi/pulumi/runtime/closure/serializeClosure"))}).serializeFunction(() => provider, { allowSecrets: true })`,
            "    .then((sf) => process.stdout.write(sf.text));",
        ].join("\n"));
        const text = execFileSync(process.execPath, [script], { cwd: PROJECT_ROOT, encoding: "utf8" });
        rmSync(dir, { recursive: true });
        const call = [
            `const provider = require(${JSON.stringify(projectRequire.resolve("require-from-string"))})(require("fs").readFileSync(0, "utf8")).handler();`,
            "(async () => {",
            `    const created = await provider.create({ image: ${JSON.stringify(image)} });`,
            "    const diff = await provider.diff(created.id, created.outs, { image: created.outs.image });",
            "    process.stdout.write(JSON.stringify({ created, diff }));",
            "})().catch((err) => { console.error(err); process.exit(1); });",
        ].join("\n");
        // Another process, from the project root (where the CLI starts the dynamic provider): what it knows is the text.
        const answer = JSON.parse(execFileSync(process.execPath, ["-e", call], { cwd: PROJECT_ROOT, input: text, encoding: "utf8" })) as unknown;
        expect(answer).toEqual({ created: { id: image, outs: { image, digest: pushed } }, diff: { changes: false } });
    });
});

describe("lookupTag against a registry that wants credentials (Basic, as ECR)", () => {
    const credentials = { username: "AWS", password: "s3cret-token" };
    let registry: RegistryServer;
    beforeAll(async () => {
        registry = await RegistryServer.start(credentials);
    });
    afterAll(() => registry.stop());

    it("answers with the credentials, cannot tell without them, and fails on wrong ones", async () => {
        const pushed = await registry.push("reports", "3333333333333333", "layer three");
        const image = `${registry.host}/reports:3333333333333333`;
        expect(await lookupTag(image, credentials)).toEqual({ digest: pushed });
        expect(await lookupTag(`${registry.host}/reports:4444444444444444`, credentials)).toEqual({ digest: "" });
        expect(await lookupTag(image)).toEqual({ unknown: `${registry.host} wants credentials to read reports` });
        await expect(lookupTag(image, { username: "AWS", password: "wrong" })).rejects.toThrow(`the registry answered HTTP 401 for ${image}`);
        // A registry that cannot tell gets the push it always got.
        expect((await registryTagProvider.create!({ image })).outs).toEqual({ image, digest: "" });
    });
});

describe("lookupTag when no registry listens", () => {
    it("retries, then names the registry it could not reach", async () => {
        const host = `127.0.0.1:${await freePort()}`;
        const started = Date.now();
        await expect(lookupTag(`${host}/backend:0123456789abcdef`, undefined, 3, 20)).rejects.toThrow(`cannot reach the registry at http://${host}/v2/backend/manifests/0123456789abcdef to see whether ${host}/backend:0123456789abcdef is there: connect ECONNREFUSED ${host}`);
        expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    });
});

describe("RegistryTag under mocks", () => {
    it("keeps the credentials secret and carries no path of this checkout in its serialized provider", async () => {
        const run = await runUnderMocks("dev", {}, async () => {
            new RegistryTag("t", { image: "localhost:5001/backend:0123456789abcdef", credentials: pulumi.output({ server: "s", username: "u", password: "p" }) });
            return {};
        });
        const inputs = run.resources[0]!.inputs as { __provider: string; credentials: Record<string, unknown>; image: string };
        expect(run.resources[0]!.type).toBe("pulumi-nodejs:dynamic:Resource");
        expect(inputs.image).toBe("localhost:5001/backend:0123456789abcdef");
        expect(inputs.credentials).toMatchObject({ value: { password: "p" } });
        expect(Object.keys(inputs.credentials)).toContain("4dabf18193072939515e22adb298388d");
        expect(inputs.__provider).toContain("lookupTag");
        expect(inputs.__provider).not.toContain(process.cwd());
    });
});
