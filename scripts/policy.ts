/**
 * `npm run policy -- <stack> [--resources FILE]`: the policy pack, offline, over a stack's synth
 * output (running `npm run synth -- <stack>` first unless --resources is given), with
 * `policy/config/<stack>.json`. FILE is absolute or relative to the directory the command was run
 * in (./user-files.ts). Prints violations grouped by resource; exits 1 when a mandatory policy
 * fails, 2 on unusable input.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { policies } from "../policy/policies";
import { checkStack, PolicyInputError } from "../policy/runner";
import { userFile, UserFileError } from "./user-files";

const USAGE = "usage: npm run policy -- <stack> [--resources FILE]";
const root = join(__dirname, "..");

/** A file of the project (path relative to its root), with the path as the source to report. */
function projectFile(path: string): { text: string; source: string } {
    try {
        return { text: readFileSync(join(root, path), "utf8"), source: path };
    } catch {
        throw new PolicyInputError(`${path}: cannot be read`);
    }
}

async function main(argv: string[]): Promise<number> {
    const [stack, flag, file, ...rest] = argv;
    if (!stack || stack.startsWith("-") || (flag !== undefined && (flag !== "--resources" || !file)) || rest.length > 0) {
        console.error(USAGE);
        return 2;
    }
    let resources: { text: string; source: string };
    if (file !== undefined) {
        resources = { text: readFileSync(userFile("--resources", file), "utf8"), source: file };
    } else {
        const synth = spawnSync("npm", ["run", "--silent", "synth", "--", stack], { cwd: root, stdio: "inherit" });
        if (synth.status !== 0) {
            console.error(`npm run synth -- ${stack} failed (see above); fix it, or check a file with --resources FILE`);
            return 2;
        }
        resources = projectFile(join("synth", stack, "resources.json"));
    }
    const result = await checkStack({ policies, stack, resources, config: projectFile(join("policy", "config", `${stack}.json`)) });
    console.log(result.report);
    return result.blocking ? 1 : 0;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
        if (!(e instanceof PolicyInputError || e instanceof UserFileError)) throw e;
        console.error(e.message);
        process.exit(2);
    },
);
