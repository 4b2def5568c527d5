/**
 * JSON text a command reads (a file, stdin, another command's output), parsed or refused in one
 * line naming where it came from. Shared by the smoke test, the HPA check and the plan's calibration.
 */

/** `JSON.parse(json)`, or `fail("<source>: is not JSON (<why>)")` thrown. */
export function parseJsonText(json: string, source: string, fail: (line: string) => Error = (line) => new Error(line)): unknown {
    try {
        return JSON.parse(json) as unknown;
    } catch (err) {
        throw fail(`${source}: is not JSON (${(err as Error).message})`);
    }
}
