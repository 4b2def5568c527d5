import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_NAMESPACE, TOP_LEVEL_KEYS } from "../components/config";
import { readProjectFile, stackConfig, StackFileError } from "../scripts/stack-files";
import { stackFiles } from "./harness";

describe("Pulumi.yaml", () => {
    it("declares every key the program reads, each with a default or value, so no stack has to set them", () => {
        const project = readProjectFile();
        expect(project.name).toBe(CONFIG_NAMESPACE);
        expect(project.required).toEqual([]);
        expect(Object.keys(project.config).sort()).toEqual(TOP_LEVEL_KEYS.map((k) => `${CONFIG_NAMESPACE}:${k}`).sort());
    });

    it("runs every stack file the project has", () => {
        expect(stackFiles()).toEqual(["dev", "prod", "staging"]);
        for (const stack of stackFiles()) expect(() => stackConfig(stack)).not.toThrow();
    });
});

describe("stackConfig", () => {
    const project = (config: string) => {
        const root = mkdtempSync(join(tmpdir(), "kubeforge-project-"));
        writeFileSync(join(root, "Pulumi.yaml"), `name: demo\nruntime: nodejs\nconfig:\n${config}`);
        return root;
    };

    it("lets the stack replace a project value key by key, and keeps the rest", () => {
        const root = project("  size:\n    type: integer\n    default: 2\n  shape:\n    value: {a: 1}\n  aws:region: eu-west-1\n");
        writeFileSync(join(root, "Pulumi.test.yaml"), "config:\n  demo:shape: {b: 2}\n");
        expect(stackConfig("test", { root })).toEqual({ "demo:size": 2, "demo:shape": { b: 2 }, "aws:region": "eu-west-1" });
    });

    it("names a stack without a stack file in one line, with the stacks there are and the command's option for another file", () => {
        const root = project("  size:\n    default: 2\n");
        writeFileSync(join(root, "Pulumi.test.yaml"), "config: {}\n");
        writeFileSync(join(root, "Pulumi.other.yaml"), "config: {}\n");
        expect(() => stackConfig("nope", { root })).toThrow(new StackFileError('stack "nope" does not exist: there is no Pulumi.nope.yaml (stacks: other, test)'));
        expect(() => stackConfig("nope", { root, stackFileOption: "--stack-file" })).toThrow('stack "nope" does not exist: there is no Pulumi.nope.yaml (stacks: other, test); or give --stack-file FILE');
        expect(stackConfig("nope", { root, stackFile: join(root, "Pulumi.test.yaml") })).toEqual({ "demo:size": 2 });
    });

    it("refuses, as the CLI does, a stack that leaves out a key declared without default or value", () => {
        const root = project("  owner:\n    type: string\n    description: who runs it\n");
        writeFileSync(join(root, "Pulumi.test.yaml"), "config: {}\n");
        expect(() => stackConfig("test", { root })).toThrow("Stack 'test' is missing configuration value 'demo:owner'");
    });
});
