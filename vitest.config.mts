import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts", "services/*/test/**/*.test.ts", "policy/test/**/*.test.ts"],
        // Each test file runs the program under its own Pulumi mocks; isolate them.
        pool: "forks",
        testTimeout: 60_000,
        hookTimeout: 60_000,
    },
});
