/**
 * Checks that the command-line tools a stack needs are installed, at workable versions, and
 * reachable: the Pulumi CLI (logged in to a backend), Docker (client and daemon), kind, the AWS CLI.
 *
 * Every check is a pure function of a {@link Runner} (how to run a program and what it printed),
 * so tests drive them with a fake PATH, and each problem is one line saying what is wrong and how
 * to fix it. `npm run doctor` (scripts/doctor.ts) prints them for a stack; the kind cluster runs
 * {@link kindPreflight} before it creates anything, so a missing `kind` or a stopped Docker daemon
 * fails `pulumi preview`/`up` with the same line instead of a raw command failure.
 */
import { spawnSync } from "node:child_process";
import { KIND_RELEASE } from "./cluster/kind/config";
import type { ClusterFlavour } from "./cluster/types";

/** What running a program gave back. */
export interface RunResult {
    /** Exit code; null when the program did not start or was killed. */
    status: number | null;
    stdout: string;
    stderr: string;
    /** Why the program did not start (`ENOENT`: not on PATH), if it did not. */
    errorCode?: string;
}

/** Runs `command args...` and reports what happened; never throws. */
export type Runner = (command: string, args: readonly string[]) => RunResult;

/** A {@link Runner} over real processes, looking programs up on `env.PATH`. */
export function systemRunner(env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Runner {
    return (command, args) => {
        const r = spawnSync(command, args, { env, encoding: "utf8", timeout: timeoutMs });
        const errorCode = (r.error as NodeJS.ErrnoException | undefined)?.code;
        return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ...(errorCode ? { errorCode } : {}) };
    };
}

/** A command-line tool, how to ask for its version, and where to get it. */
export interface Tool {
    /** Program name on PATH. */
    command: string;
    /** Arguments that print its version without contacting any server. */
    versionArgs: string[];
    /** Oldest version that works here (`x.y.z`). */
    minimum: string;
    /** Why that minimum. */
    reason: string;
    /** Install instructions. */
    install: string;
}

/** The tools a stack may need. */
export const TOOLS = {
    pulumi: {
        command: "pulumi",
        versionArgs: ["version"],
        // A conservative floor: Pulumi.yaml uses typed project config and the nodejs `packagemanager`
        // runtime option; CLIs older than this are untested.
        minimum: "3.120.0",
        reason: "older CLIs are untested with this project's Pulumi.yaml",
        install: "https://www.pulumi.com/docs/install/",
    },
    docker: {
        command: "docker",
        versionArgs: ["--version"],
        minimum: "20.10.0",
        reason: "kind's nodes need cgroup namespaces",
        install: "https://docs.docker.com/get-docker/",
    },
    kind: {
        command: "kind",
        versionArgs: ["version"],
        minimum: KIND_RELEASE,
        reason: "the pinned kindest/node image is built for this kind release",
        install: "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    },
    aws: {
        command: "aws",
        versionArgs: ["--version"],
        minimum: "2.0.0",
        reason: "EKS kubeconfigs call `aws eks get-token`",
        install: "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html",
    },
} as const satisfies Record<string, Tool>;

/** `x.y.z` out of a version banner (`kind v0.33.0 go1.24 linux/amd64`, `Docker version 27.3.1, build ...`). */
export function parseVersion(text: string): string | undefined {
    return /(\d+)\.(\d+)\.(\d+)/.exec(text)?.slice(1, 4).join(".");
}

/** Whether version `a` is older than `b` (both `x.y.z`). */
export function isOlder(a: string, b: string): boolean {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < 3; i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d < 0;
    }
    return false;
}

function firstLine(r: RunResult): string {
    return (r.stderr.trim() || r.stdout.trim()).split("\n")[0] ?? "";
}

/**
 * Is the tool on PATH and recent enough? One line per problem; [] when it is.
 * The version is read from what it prints.
 */
export function checkTool(run: Runner, tool: Tool): string[] {
    const invocation = [tool.command, ...tool.versionArgs].join(" ");
    const r = run(tool.command, tool.versionArgs);
    if (r.errorCode === "ENOENT") {
        return [`${tool.command}: not found on PATH; install ${tool.command} ${tool.minimum} or later: ${tool.install}`];
    }
    if (r.status !== 0) {
        return [`${tool.command}: \`${invocation}\` failed (${r.errorCode ?? `exit ${r.status}`}: ${firstLine(r)}); reinstall it: ${tool.install}`];
    }
    const version = parseVersion(r.stdout);
    if (version === undefined) {
        return [`${tool.command}: \`${invocation}\` printed no version (${firstLine(r)}); reinstall it: ${tool.install}`];
    }
    if (isOlder(version, tool.minimum)) {
        return [`${tool.command}: ${version} is older than ${tool.minimum} (${tool.reason}); upgrade: ${tool.install}`];
    }
    return [];
}

/** Is the Docker daemon reachable (not just the client installed), and recent enough? */
export function checkDockerDaemon(run: Runner): string[] {
    const r = run("docker", ["info", "--format", "{{.ServerVersion}}"]);
    if (r.status !== 0 || r.errorCode !== undefined) {
        return [`docker: the daemon is not reachable (${firstLine(r)}); start Docker Desktop, or on Linux \`sudo systemctl start docker\` and make sure your user may use it (\`docker info\` must work)`];
    }
    const version = parseVersion(r.stdout);
    if (version !== undefined && isOlder(version, TOOLS.docker.minimum)) {
        return [`docker: the daemon is ${version}, older than ${TOOLS.docker.minimum} (${TOOLS.docker.reason}); upgrade: ${TOOLS.docker.install}`];
    }
    return [];
}

/** Is the Pulumi CLI logged in to a backend? */
export function checkPulumiLogin(run: Runner): string[] {
    const r = run("pulumi", ["whoami"]);
    if (r.status === 0) return [];
    return [`pulumi: not logged in to a backend (${firstLine(r)}); run \`pulumi login\` (Pulumi Cloud) or \`pulumi login --local\` (state in ~/.pulumi)`];
}

/** Docker: the client, then (only when there is one) the daemon. */
function checkDocker(run: Runner): string[] {
    const client = checkTool(run, TOOLS.docker);
    return client.length > 0 ? client : checkDockerDaemon(run);
}

/** What the kind cluster needs before it can create anything: kind and a reachable Docker daemon. */
export function kindPreflight(run: Runner): string[] {
    return [...checkTool(run, TOOLS.kind), ...checkDocker(run)];
}

/** What a stack needs on this machine. */
export interface StackNeeds {
    /** The stack's cluster flavour. */
    flavour: ClusterFlavour;
    /** Whether any service is built from source (needs Docker even without kind). */
    builds: boolean;
}

/** Every check for a stack, in the order a newcomer would fix them: one line per problem. */
export function stackPrerequisites(run: Runner, needs: StackNeeds): string[] {
    const pulumi = checkTool(run, TOOLS.pulumi);
    const problems = [...pulumi, ...(pulumi.length === 0 ? checkPulumiLogin(run) : [])];
    if (needs.flavour === "kind") problems.push(...kindPreflight(run));
    else if (needs.builds) problems.push(...checkDocker(run));
    if (needs.flavour === "eks") problems.push(...checkTool(run, TOOLS.aws));
    return problems;
}
