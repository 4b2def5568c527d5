/**
 * `npm run up [-- <stack> [pulumi up flags]]` (default stack `dev`): run the doctor, and only when
 * it finds nothing, select the stack (creating it on first use) and `pulumi up` it.
 */
import { spawnSync } from "node:child_process";
import { systemRunner, type Runner } from "../components/runner";
import { report } from "./doctor";
import { PROJECT_ROOT } from "./stack-files";

/** Runs a program with the terminal attached; returns its exit code. */
export type Exec = (command: string, args: string[]) => number;

/** Doctor, then `pulumi stack select --create <stack>` and `pulumi up -s <stack> ...`; the first failure's code. */
export function up(stack: string, upArgs: string[], run: Runner, exec: Exec, root = PROJECT_ROOT, print: (line: string) => void = console.error, env: NodeJS.ProcessEnv = process.env): number {
    const doctorCode = report(stack, run, root, print, env);
    if (doctorCode !== 0) return doctorCode;
    const select = exec("pulumi", ["stack", "select", "--create", stack]);
    if (select !== 0) return select;
    return exec("pulumi", ["up", "-s", stack, ...upArgs]);
}

if (require.main === module) {
    const [stack = "dev", ...rest] = process.argv.slice(2);
    const exec: Exec = (command, args) => spawnSync(command, args, { stdio: "inherit", cwd: PROJECT_ROOT }).status ?? 1;
    process.exit(up(stack, rest, systemRunner(), exec));
}
