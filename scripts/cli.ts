/**
 * The entry point the project's commands share (synth, plan, smoke, load, hpa-check): run the
 * command, exit with the code it returns. An error it did not turn into a code exits 1: invalid
 * stack config (`ConfigError`) and every `RunError` (deliberate ones, and what the program raised
 * under mocks: ./mocks.ts) as their one-line message, anything else with its stack.
 */

/** Run `main` and exit with its code; see the module comment for an error it throws. */
export function runCli(main: () => Promise<number> | number): void {
    Promise.resolve()
        .then(main)
        .then((code) => process.exit(code), async (err: unknown) => {
            console.error(await failureText(err));
            process.exit(1);
        });
}

/** What a command prints for an error it did not handle. */
async function failureText(err: unknown): Promise<string> {
    // Loaded only when there is an error to tell apart: smoke, load and hpa-check need no Pulumi otherwise.
    const { RunError } = await import("@pulumi/pulumi");
    const e = err as Error | undefined;
    if (e?.name === "ConfigError" || RunError.isInstance(err)) return e?.message ?? String(err);
    return e?.stack ?? String(err);
}
