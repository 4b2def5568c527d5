/**
 * How the machine checks run programs: a {@link Runner} is a pure function of a command line to
 * what it printed, so every check (components/prerequisites.ts, components/docker-endpoint.ts)
 * is tested with a fake one, and {@link systemRunner} is the only place a real process starts.
 */
import { spawnSync } from "node:child_process";

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

/** The first line a failed program printed (stderr first), for a one-line problem. */
export function firstLine(r: RunResult): string {
    return (r.stderr.trim() || r.stdout.trim()).split("\n")[0] ?? "";
}
