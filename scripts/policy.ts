/**
 * `npm run policy -- <stack> [--resources FILE]`: the policy pack, offline, over a stack's synth
 * output (running `npm run synth -- <stack>` first unless --resources is given), with
 * `policy/config/<stack>.json`. Prints violations grouped by resource; exits 1 when a mandatory
 * policy fails, 2 on unusable input.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { policies } from "../policy/policies";
import { checkStack, PolicyInputError } from "../policy/runner";

const USAGE = "usage: npm run policy -- <stack> [--resources FILE]";
const root = join(__dirname, "..");

async function main(argv: string[]): Promise<number> {
    const [stack, flag, file, ...rest] = argv;
    if (!stack || stack.startsWith("-") || (flag !== undefined && (flag !== "--resources" || !file)) || rest.length > 0) {
        console.error(USAGE);
        return 2;
    }
    let resourcesFile = file;
    if (resourcesFile === undefined) {
        const synth = spawnSync("npm", ["run", "--silent", "synth", "--", stack], { cwd: root, stdio: "inherit" });
        if (synth.status !== 0) {
            console.error(`npm run synth -- ${stack} failed (see above); fix it, or check a file with --resources FILE`);
            return 2;
        }
        resourcesFile = join("synth", stack, "resources.json");
    }
    const configFile = join("policy", "config", `${stack}.json`);
    const read = (path: string) => {
        try {
            return readFileSync(join(root, path), "utf8");
        } catch {
            throw new PolicyInputError(`${path}: cannot be read`);
        }
    };
    const result = await checkStack({ policies, stack, resources: { text: read(resourcesFile), source: resourcesFile }, config: { text: read(configFile), source: configFile } });
    console.log(result.report);
    return result.blocking ? 1 : 0;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
        if (!(e instanceof PolicyInputError)) throw e;
        console.error(e.message);
        process.exit(2);
    },
);
