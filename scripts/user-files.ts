/**
 * Files users name on the command line (`npm run policy -- <stack> --resources FILE`,
 * `npm run synth -- <stack> --stack-file FILE`): absolute, or relative to the directory the user
 * ran the command in, which is not the scripts' working directory. npm runs a package script
 * from the package root and keeps the directory npm was started in as `INIT_CWD` (npm docs
 * `commands/npm-run.md`: "use the `INIT_CWD` environment variable, which holds the full path you
 * were in when you ran `npm run`"; npm 11.19.1 `@npmcli/config` 10.12.0 `lib/set-envs.js`:
 * `env.INIT_CWD = process.cwd()`). Run without npm (`npx tsx scripts/...`), the process's own
 * working directory is where the user is.
 */
import { accessSync, constants, statSync } from "node:fs";
import { resolve } from "node:path";

/** A command-line file that cannot be read: one line naming the option, the value and why. */
export class UserFileError extends Error {
    override readonly name = "UserFileError";
}

/** The directory a relative command-line path is relative to: `INIT_CWD` under npm, else the working directory. */
export function invocationDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
    return env.INIT_CWD !== undefined && env.INIT_CWD !== "" ? env.INIT_CWD : cwd;
}

/** Why a path cannot be read, in words, from a Node.js file-system error code. */
function unreadable(code: string | undefined): string {
    switch (code) {
        case "ENOENT":
            return "no such file";
        case "EACCES":
        case "EPERM":
            return "permission denied";
        case "ENOTDIR":
            return "a parent is not a directory";
        default:
            return code ?? "unreadable";
    }
}

/**
 * The absolute path of the readable regular file a command-line option names, resolved against
 * {@link invocationDir}. Throws one line naming the option, the value as given, the path it
 * resolved to and why it cannot be read.
 */
export function userFile(option: string, file: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
    const path = resolve(invocationDir(env, cwd), file);
    let problem: string | undefined;
    try {
        if (!statSync(path).isFile()) problem = "not a file";
        else accessSync(path, constants.R_OK);
    } catch (e) {
        problem = unreadable((e as NodeJS.ErrnoException).code);
    }
    if (problem !== undefined) {
        throw new UserFileError(`${option} ${file}: cannot be read (${path}: ${problem}); give a path relative to the directory you ran the command in, or an absolute one`);
    }
    return path;
}
