/**
 * `npm run bench:images [-- <rounds>]`: how long the program spends per preview on the three
 * built-in images before anything reaches Docker: reading the Dockerfiles' sources, hashing the
 * tags, and writing the generated build contexts (cold: none there yet; warm: reused). Runs on a
 * copy of services/ in a temporary directory, so the project's own `.kubeforge/` is left alone.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildHash, buildInputs, generatedContextPath, writeBuildContext } from "../components/image";
import type { BuildSettings } from "../components/config";

const PROJECT = resolve(__dirname, "..");
const SERVICES = ["backend", "messages", "reports"];

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
}

function main(rounds: number): void {
    const root = mkdtempSync(join(tmpdir(), "kubeforge-bench-images-"));
    try {
        cpSync(join(PROJECT, "services"), join(root, "services"), { recursive: true, filter: (src) => !/(^|\/)(node_modules|dist)(\/|$)/.test(src.slice(PROJECT.length)) });
        const builds: BuildSettings[] = SERVICES.map((s) => ({ context: "services", dockerfile: `services/${s}/Dockerfile`, args: {} }));
        const times = { inputs: [] as number[], hash: [] as number[], cold: [] as number[], warm: [] as number[] };
        let files = 0;
        for (let round = 0; round < rounds; round++) {
            rmSync(join(root, ".kubeforge"), { recursive: true, force: true });
            let t = performance.now();
            const inputs = builds.map((b) => buildInputs(b, root));
            times.inputs.push(performance.now() - t);
            t = performance.now();
            const tags = builds.map((b, i) => buildHash(b, root, "linux/amd64", inputs[i]));
            times.hash.push(performance.now() - t);
            for (const phase of ["cold", "warm"] as const) {
                t = performance.now();
                SERVICES.forEach((s, i) => writeBuildContext(join(root, "services"), inputs[i]!.files, join(root, generatedContextPath("bench", s, tags[i]!))));
                times[phase].push(performance.now() - t);
            }
            files = inputs.reduce((n, i) => n + i.files.length, 0);
        }
        console.log(`three images, ${files} context files in all, median of ${rounds} rounds:`);
        console.log(`  read the Dockerfiles' sources ${median(times.inputs).toFixed(1)} ms, hash the tags ${median(times.hash).toFixed(1)} ms`);
        console.log(`  write the generated contexts ${median(times.cold).toFixed(1)} ms (cold), ${median(times.warm).toFixed(2)} ms (warm: reused)`);
    } finally {
        rmSync(root, { recursive: true, force: true });
    }
}

main(Number(process.argv[2] ?? 20));
