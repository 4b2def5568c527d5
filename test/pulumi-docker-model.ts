/**
 * A model of the input @pulumi/docker v4 adds to every `docker.Image`: `build.contextDigest`.
 *
 * pulumi/pulumi-docker v4.11.2 provider/provider.go: Check calls `hashContext(build.Context,
 * build.Dockerfile)` and stores the result as `inputs.build.contextDigest`; Diff compares the old
 * inputs with the new ones (`oldInputs.Diff(news)`), so a changed digest is an update, and Update
 * builds and pushes again (`p.dockerBuild(...)`). hashContext:
 * - hashes the Dockerfile first, under the name `Dockerfile` with file mode 0, wherever it is
 *   (`accumulator.hashPath(dockerfilePath, defaultDockerfile, 0)`);
 * - then walks the whole context (`fsutil.Walk`, i.e. `filepath.WalkDir`: each directory's
 *   entries in byte order, tonistiigi/fsutil@3f76f8130144 fs.go) minus the patterns of
 *   `<Dockerfile>.dockerignore`, else the context's `.dockerignore` (getIgnorePatterns), and
 *   hashes every non-directory;
 * - per file (hashPath) appends its `/`-separated relative path, Go's `fs.FileMode.String()` of
 *   its mode, the SHA-256 of its content and a zero byte; the digest is the SHA-256 of it all.
 * Absolute paths enter only through symbolic links (hashed as `filepath.EvalSymlinks` of the
 * path), which this model refuses, as the program does.
 *
 * The ignore patterns are matched here by @balena/dockerignore through `contextFiles` (the
 * program's own reading of a context); the provider uses moby/patternmatcher. The upstream test
 * cases this model is tested against include its ignore cases.
 */
import { createHash } from "node:crypto";
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { contextFiles } from "../components/image";

/** Go's `fs.FileMode.String()` for a regular file (the only kind the model takes). */
export function goFileModeString(mode: number): string {
    const perm = mode & 0o777;
    return "-" + "rwxrwxrwx".split("").map((c, i) => (perm & (1 << (8 - i)) ? c : "-")).join("");
}

/** Byte order of `/`-separated paths, directory by directory, as `filepath.WalkDir` visits files. */
export function walkOrder(a: string, b: string): number {
    const [x, y] = [a.split("/"), b.split("/")];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = Buffer.compare(Buffer.from(x[i]!), Buffer.from(y[i]!));
        if (c !== 0) return c;
    }
    return x.length - y.length;
}

function entry(relative: string, mode: string, content: Buffer): Buffer {
    return Buffer.concat([Buffer.from(relative), Buffer.from(mode), createHash("sha256").update(content).digest(), Buffer.from([0])]);
}

/** `build.contextDigest` as @pulumi/docker v4.11.2 computes it for `context` and `dockerfile`. */
export function contextDigest(context: string, dockerfile: string): string {
    const parts = [entry("Dockerfile", goFileModeString(0), readFileSync(dockerfile))];
    for (const file of contextFiles(context, dockerfile).sort(walkOrder)) {
        const stat = lstatSync(join(context, file));
        if (!stat.isFile()) throw new Error(`the model covers regular files only: ${file}`);
        parts.push(entry(file, goFileModeString(stat.mode), readFileSync(join(context, file))));
    }
    return createHash("sha256").update(Buffer.concat(parts)).digest("hex");
}
