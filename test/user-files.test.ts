/**
 * Files named on the command line (`--resources`, `--stack-file`) are read from where the user
 * ran the command, not from the project root npm runs the scripts in.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../scripts/stack-files";
import { invocationDir, userFile, UserFileError } from "../scripts/user-files";

const FIXTURE = join(PROJECT_ROOT, "policy", "test", "fixtures", "compliant.resources.json");

/** A fresh directory outside the project holding a copy of the compliant synth fixture as `sub/r.json`. */
function userDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "kubeforge-user-"));
    mkdirSync(join(dir, "sub"));
    copyFileSync(FIXTURE, join(dir, "sub", "r.json"));
    return dir;
}

describe("userFile", () => {
    const dir = userDir();

    it("is relative to INIT_CWD when npm set it, else to the working directory", () => {
        expect(invocationDir({ INIT_CWD: dir }, "/elsewhere")).toBe(dir);
        expect(invocationDir({}, dir)).toBe(dir);
        expect(invocationDir({ INIT_CWD: "" }, dir)).toBe(dir);
        expect(userFile("--resources", "sub/r.json", { INIT_CWD: dir }, PROJECT_ROOT)).toBe(join(dir, "sub", "r.json"));
        expect(userFile("--resources", "r.json", {}, join(dir, "sub"))).toBe(join(dir, "sub", "r.json"));
    });

    it("takes an absolute path as it is", () => {
        expect(userFile("--resources", join(dir, "sub", "r.json"), { INIT_CWD: "/elsewhere" }, "/elsewhere")).toBe(join(dir, "sub", "r.json"));
    });

    it("names the option, the value, the resolved path and the reason in one line", () => {
        expect(() => userFile("--stack-file", "nope.yaml", { INIT_CWD: dir })).toThrow(
            new UserFileError(`--stack-file nope.yaml: cannot be read (${join(dir, "nope.yaml")}: no such file); give a path relative to the directory you ran the command in, or an absolute one`),
        );
        expect(() => userFile("--resources", "sub", { INIT_CWD: dir })).toThrow(`--resources sub: cannot be read (${join(dir, "sub")}: not a file)`);
        expect(() => userFile("--resources", "sub/r.json/x", { INIT_CWD: dir })).toThrow(`(${join(dir, "sub", "r.json", "x")}: a parent is not a directory)`);
    });
});

// npm 11.19.1 `@npmcli/config` lib/set-envs.js sets INIT_CWD to the directory npm was started in and
// runs the script in the package root (docs/content/commands/npm-run.md). Run through the real npm,
// from a directory outside the project (`--prefix` names the package), as a user would.
describe("through npm, from another directory", () => {
    afterAll(() => rmSync(join(PROJECT_ROOT, "synth", "usertemplate"), { recursive: true, force: true }));
    const npm = (cwd: string, ...args: string[]) => spawnSync("npm", ["--prefix", PROJECT_ROOT, "run", "--silent", ...args], { cwd, encoding: "utf8" });

    it("npm run policy -- <stack> --resources reads a relative path from there, and an absolute one as given", () => {
        const dir = userDir();
        const relative = npm(join(dir, "sub"), "policy", "--", "prod", "--resources", "r.json");
        expect(relative.stderr).toBe("");
        expect(relative.status).toBe(0);
        expect(relative.stdout).toContain("on stack prod: r.json with policy/config/prod.json");
        const absolute = npm(dir, "policy", "--", "prod", "--resources", join(dir, "sub", "r.json"));
        expect(absolute.status).toBe(0);
        const missing = npm(dir, "policy", "--", "prod", "--resources", "r.json");
        expect(missing.status).toBe(2);
        expect(missing.stderr.trim().split("\n")).toEqual([`--resources r.json: cannot be read (${join(dir, "r.json")}: no such file); give a path relative to the directory you ran the command in, or an absolute one`]);
    });

    it("npm run synth -- <stack> --stack-file reads a relative path from there", () => {
        const dir = userDir();
        copyFileSync(join(PROJECT_ROOT, "Pulumi.dev.yaml"), join(dir, "sub", "template.yaml"));
        const ok = npm(join(dir, "sub"), "synth", "--", "usertemplate", "--stack-file", "template.yaml");
        expect(ok.status).toBe(0);
        expect(ok.stdout).toContain("synth/usertemplate:");
        const missing = npm(dir, "synth", "--", "usertemplate", "--stack-file", "template.yaml");
        expect(missing.status).toBe(2);
        expect(missing.stderr.trim().split("\n")).toEqual([`--stack-file template.yaml: cannot be read (${join(dir, "template.yaml")}: no such file); give a path relative to the directory you ran the command in, or an absolute one`]);
    });
});
