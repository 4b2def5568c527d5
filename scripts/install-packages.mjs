// Runs after the root `npm ci`/`npm install`: installs the nested packages (the services'
// workspace and the policy pack), each from its own lock file, so one install sets up everything.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
for (const dir of ["services", "policy"]) {
    if (!existsSync(join(root, dir, "package-lock.json"))) continue;
    const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: join(root, dir), stdio: "inherit" });
    if (result.status !== 0) {
        console.error(`npm ci failed in ${dir}/ (exit ${result.status ?? result.signal})`);
        process.exit(1);
    }
}
