import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts", "services/*/test/**/*.test.ts", "policy/test/**/*.test.ts"],
        // Each test file runs the program under its own Pulumi mocks; isolate them.
        pool: "forks",
        testTimeout: 60_000,
        // GitHub's workflow parser imports its JSON schema without an import attribute, which
        // Node's ES module loader refuses; run it through Vite, which loads JSON (test/workflows.test.ts).
        server: { deps: { inline: ["@actions/workflow-parser"] } },
        hookTimeout: 60_000,
    },
});
