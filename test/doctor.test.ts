/**
 * The doctor's checks against a fake PATH: tiny executables in a temp dir that print versions or
 * fail, run through the real process runner (no Docker, kind or Pulumi needed). The Docker
 * endpoint, daemon and kind-host checks are driven by a fake runner in docker-endpoint.test.ts.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KIND_RELEASE } from "../components/cluster/kind/config";
import { checkTool, isOlder, kindPreflight, parseVersion, stackPrerequisites, TOOLS, type KindNeeds } from "../components/prerequisites";
import { systemRunner, type Runner } from "../components/runner";
import { doctor } from "../scripts/doctor";
import { up } from "../scripts/up";

const KIND_MISSING = `kind: not found on PATH; install kind ${KIND_RELEASE} or later: https://kind.sigs.k8s.io/docs/user/quick-start/#installation`;
const DOCKER_MISSING = "docker: not found on PATH; install docker 20.10.0 or later: https://docs.docker.com/get-docker/";
const DAEMON_DOWN = "docker: the daemon at unix:///var/run/docker.sock (context \"default\") is not reachable (Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?); start Docker Desktop, Colima or Rancher Desktop, or on Linux `sudo systemctl start docker` and make sure your user may use it (`docker info` must work)";
const NOT_LOGGED_IN = "pulumi: not logged in to a backend (error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions); run `pulumi login` (Pulumi Cloud) or `pulumi login --local` (state in ~/.pulumi)";
const AWS_MISSING = "aws: not found on PATH; install aws 2.0.0 or later: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html";

let bin: string;
let run: Runner;
/** The environment the checks resolve the Docker endpoint in: no DOCKER_HOST, no DOCKER_CONTEXT. */
const env = {};
const KIND: KindNeeds = { clusterName: "kubeforge-dev", nodeImage: "kindest/node:v1.37.0@sha256:" + "a".repeat(64), lbPorts: new Map([["backend", 8081]]) };

/** A docker CLI: `[--host H] <command>`; `info` prints `infoJson`. */
function fakeDocker(info: string): void {
    fake("docker", [
        `if [ "$1" = "--host" ]; then shift 2; fi`,
        `case "$1" in`,
        `  --version) echo "Docker version 27.3.1, build ce12230";;`,
        `  context) echo '{"Name":"default","Endpoints":{"docker":{"Host":"unix:///var/run/docker.sock","SkipTLSVerify":false}},"TLSMaterial":{},"Storage":{}}';;`,
        `  info) ${info};;`,
        `  ps) ;;`,
        `  *) exit 2;;`,
        `esac`,
    ].join("\n"));
}

/** A fake executable: a POSIX sh script using only builtins (the fake PATH has nothing else). */
function fake(name: string, body: string): void {
    const file = join(bin, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
}

/** Healthy versions of every tool. */
function healthy(): void {
    fake("pulumi", `case "$1" in version) echo v3.205.0;; whoami) echo alice;; *) exit 2;; esac`);
    fakeDocker(`echo '{"ServerVersion":"27.3.1","CgroupVersion":"2","KernelVersion":"6.8.0-45-generic"}'`);
    fake("kind", `echo "kind v${KIND_RELEASE} go1.24.6 linux/amd64"`);
    fake("aws", `echo "aws-cli/2.22.4 Python/3.12.6 Linux/6.8.0 exe/x86_64.ubuntu.24"`);
}

beforeEach(() => {
    bin = mkdtempSync(join(tmpdir(), "kubeforge-doctor-"));
    run = systemRunner({ PATH: bin });
});
afterEach(() => rmSync(bin, { recursive: true, force: true }));

describe("versions", () => {
    it("reads x.y.z out of each tool's banner", () => {
        expect(parseVersion("kind v0.33.0 go1.24.6 linux/amd64")).toBe("0.33.0");
        expect(parseVersion("Docker version 27.3.1, build ce12230")).toBe("27.3.1");
        expect(parseVersion("aws-cli/2.22.4 Python/3.12.6")).toBe("2.22.4");
        expect(parseVersion("no version here")).toBeUndefined();
    });

    it("compares numerically, not as text", () => {
        expect(isOlder("0.9.0", "0.33.0")).toBe(true);
        expect(isOlder("0.33.0", "0.33.0")).toBe(false);
        expect(isOlder("1.0.0", "0.33.0")).toBe(false);
        expect(isOlder("20.9.9", "20.10.0")).toBe(true);
    });
});

describe("kind preflight (what the kind cluster checks before creating anything)", () => {
    it("passes with kind and a reachable Docker daemon", () => {
        healthy();
        expect(kindPreflight(run, env, KIND).problems).toEqual([]);
    });

    it("names a missing kind with where to get it", () => {
        healthy();
        rmSync(join(bin, "kind"));
        expect(kindPreflight(run, env, KIND).problems).toEqual([KIND_MISSING]);
    });

    it("rejects a kind older than the release the node image is built for", () => {
        healthy();
        fake("kind", `echo "kind v0.20.0 go1.20.4 linux/amd64"`);
        expect(kindPreflight(run, env, KIND).problems).toEqual([
            `kind: 0.20.0 is older than ${KIND_RELEASE} (the pinned kindest/node image is built for this kind release); upgrade: https://kind.sigs.k8s.io/docs/user/quick-start/#installation`,
        ]);
    });

    it("tells a stopped Docker daemon from a missing client", () => {
        healthy();
        fakeDocker(`echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1`);
        expect(kindPreflight(run, env, KIND).problems).toEqual([DAEMON_DOWN]);

        rmSync(join(bin, "docker"));
        expect(kindPreflight(run, env, KIND).problems).toEqual([DOCKER_MISSING]);
    });

    it("rejects a daemon older than 20.10 even when the client is new", () => {
        healthy();
        fakeDocker(`echo '{"ServerVersion":"19.03.15","CgroupVersion":"2","KernelVersion":"5.10.0"}'`);
        expect(kindPreflight(run, env, KIND).problems).toEqual(["docker: the daemon is 19.03.15, older than 20.10.0 (kind's nodes need cgroup namespaces); upgrade: https://docs.docker.com/get-docker/"]);
    });

    it("reports every problem at once, one line each", () => {
        expect(kindPreflight(run, env, KIND).problems).toEqual([KIND_MISSING, DOCKER_MISSING]);
    });
});

describe("single tool checks", () => {
    it("reports a tool that fails to print its version", () => {
        fake("kind", `echo "segmentation fault" >&2; exit 139`);
        expect(checkTool(run, TOOLS.kind)).toEqual(["kind: `kind version` failed (exit 139: segmentation fault); reinstall it: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"]);
    });

    it("reports a tool whose output has no version", () => {
        fake("kind", `echo "usage: kind [command]"`);
        expect(checkTool(run, TOOLS.kind)).toEqual(["kind: `kind version` printed no version (usage: kind [command]); reinstall it: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"]);
    });
});

describe("per stack", () => {
    it("kind stacks need pulumi (logged in), kind and Docker, not the AWS CLI", () => {
        healthy();
        rmSync(join(bin, "aws"));
        expect(stackPrerequisites(run, env, { flavour: "kind", builds: true, kind: KIND })).toEqual([]);
    });

    it("a Pulumi CLI that is not logged in is a problem", () => {
        healthy();
        fake("pulumi", `case "$1" in version) echo v3.205.0;; whoami) echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2; exit 255;; esac`);
        expect(stackPrerequisites(run, env, { flavour: "kind", builds: true, kind: KIND })).toEqual([NOT_LOGGED_IN]);
    });

    it("an old Pulumi CLI is reported once, without asking it who is logged in", () => {
        healthy();
        fake("pulumi", `case "$1" in version) echo v3.50.0;; *) exit 99;; esac`);
        expect(stackPrerequisites(run, env, { flavour: "kind", builds: true, kind: KIND })).toEqual([
            "pulumi: 3.50.0 is older than 3.120.0 (older CLIs are untested with this project's Pulumi.yaml); upgrade: https://www.pulumi.com/docs/install/",
        ]);
    });

    it("EKS stacks need the AWS CLI and Docker for builds, not kind", () => {
        healthy();
        rmSync(join(bin, "kind"));
        rmSync(join(bin, "aws"));
        expect(stackPrerequisites(run, env, { flavour: "eks", builds: true })).toEqual([AWS_MISSING]);
    });

    it("a stack that only deploys prebuilt images to an existing cluster needs no Docker", () => {
        fake("pulumi", `case "$1" in version) echo v3.205.0;; whoami) echo alice;; esac`);
        expect(stackPrerequisites(run, env, { flavour: "existing", builds: false })).toEqual([]);
        expect(stackPrerequisites(run, env, { flavour: "existing", builds: true })).toEqual([DOCKER_MISSING]);
    });
});

describe("npm run doctor / npm run up", () => {
    /** A project root with a Pulumi.yaml and one stack file. */
    function project(stackYaml: string): string {
        const root = mkdtempSync(join(tmpdir(), "kubeforge-project-"));
        writeFileSync(join(root, "Pulumi.yaml"), "name: kubeforge\nruntime: nodejs\n");
        writeFileSync(join(root, "Pulumi.dev.yaml"), stackYaml);
        return root;
    }

    it("reads the dev stack's flavour (kind) and checks what it needs", () => {
        healthy();
        expect(doctor("dev", run, undefined, env)).toEqual([]);
        rmSync(join(bin, "kind"));
        expect(doctor("dev", run, undefined, env)).toEqual([KIND_MISSING]);
    });

    it("reads the EKS stacks' region and flavour: the AWS CLI and Docker, not kind", () => {
        healthy();
        for (const stack of ["staging", "prod"]) expect(doctor(stack, run, undefined, env), stack).toEqual([]);
        rmSync(join(bin, "kind"));
        for (const stack of ["staging", "prod"]) expect(doctor(stack, run, undefined, env), stack).toEqual([]);
        rmSync(join(bin, "aws"));
        expect(doctor("staging", run, undefined, env)).toEqual([expect.stringMatching(/^aws: not found on PATH/)]);
    });

    it("names a stack without a stack file, and the stacks there are, in one line", () => {
        const root = project("config: {}\n");
        try {
            expect(doctor("nope", run, root, env)).toEqual(['stack "nope" does not exist: there is no Pulumi.nope.yaml (stacks: dev)']);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("reports invalid stack config as its one-line messages", () => {
        healthy();
        const root = project("config:\n  kubeforge:cluster:\n    kind:\n      workers: 0\n");
        try {
            expect(doctor("dev", run, root, env)).toEqual(["kubeforge:cluster.kind.workers: 0 must be at least 1 (load balancers only send traffic to worker nodes)"]);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("up runs nothing when the doctor finds a problem", () => {
        const calls: string[][] = [];
        const printed: string[] = [];
        const code = up("dev", [], run, (cmd, args) => { calls.push([cmd, ...args]); return 0; }, undefined, (l) => printed.push(l), env);
        expect(code).toBe(1);
        expect(calls).toEqual([]);
        expect(printed).toEqual([
            "pulumi: not found on PATH; install pulumi 3.120.0 or later: https://www.pulumi.com/docs/install/",
            KIND_MISSING,
            DOCKER_MISSING,
        ]);
    });

    it("up selects (creating on first use) and updates the stack when all is well", () => {
        healthy();
        const calls: string[][] = [];
        const code = up("dev", ["--yes"], run, (cmd, args) => { calls.push([cmd, ...args]); return 0; }, undefined, () => undefined, env);
        expect(code).toBe(0);
        expect(calls).toEqual([["pulumi", "stack", "select", "--create", "dev"], ["pulumi", "up", "-s", "dev", "--yes"]]);
    });

    it("up stops at the first failing step and returns its code", () => {
        healthy();
        const calls: string[][] = [];
        const code = up("dev", [], run, (cmd, args) => { calls.push([cmd, ...args]); return 7; }, undefined, () => undefined, env);
        expect(code).toBe(7);
        expect(calls).toHaveLength(1);
    });
});
