/**
 * A real image registry for the tests: Debian's `docker-registry` (CNCF distribution 2.8, the
 * code of the `registry:2.8.3` image the kind flavour runs; installed by .ci/run), on 127.0.0.1
 * with a port that was free a moment ago and storage in a temporary directory, optionally with
 * htpasswd (Basic) authentication as ECR asks for. Images are pushed through the registry's own
 * HTTP API, as `docker push` does.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../services/kit/test/support";

/** The one line a missing registry fails with. */
export const MISSING_REGISTRY =
    "docker-registry (or distribution's registry) and htpasswd are not installed: the image tests need a real registry; install them with `apt-get install -y docker-registry apache2-utils` (Debian/Ubuntu; .ci/run does this)";

/** The first of `names` on PATH, or throws {@link MISSING_REGISTRY}. */
function binary(...names: string[]): string {
    for (const name of names) {
        try {
            return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
        } catch {
            // not this one
        }
    }
    throw new Error(MISSING_REGISTRY);
}

/** A running registry. */
export class RegistryServer {
    private child: ChildProcess | undefined;

    private constructor(
        /** `127.0.0.1:<port>`. */
        readonly host: string,
        private readonly dir: string,
        private readonly credentials?: { username: string; password: string },
    ) {}

    /** Starts a registry (with Basic authentication when `credentials` are given) and waits until it answers. */
    static async start(credentials?: { username: string; password: string }): Promise<RegistryServer> {
        // Debian's name for distribution's `registry` binary, or that name itself.
        const registry = binary("docker-registry", "registry");
        const dir = mkdtempSync(join(tmpdir(), "kubeforge-registry-"));
        const server = new RegistryServer(`127.0.0.1:${await freePort()}`, dir, credentials);
        const auth = credentials ? `auth:\n  htpasswd:\n    realm: kubeforge-test\n    path: ${join(dir, "htpasswd")}\n` : "";
        if (credentials) writeFileSync(join(dir, "htpasswd"), execFileSync(binary("htpasswd"), ["-Bbn", credentials.username, credentials.password]));
        writeFileSync(join(dir, "config.yml"), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\nhttp:\n  addr: ${server.host}\n${auth}`);
        server.child = spawn(registry, ["serve", join(dir, "config.yml")], { stdio: "ignore" });
        for (let i = 0; i < 100; i++) {
            const answer = await fetch(`http://${server.host}/v2/`).catch(() => undefined);
            if (answer) return server;
            await new Promise((done) => setTimeout(done, 50));
        }
        await server.stop();
        throw new Error(`docker-registry did not answer on ${server.host}`);
    }

    private headers(more: Record<string, string> = {}): Record<string, string> {
        const { credentials } = this;
        return credentials ? { Authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`, ...more } : more;
    }

    private async upload(path: string, content: Buffer): Promise<string> {
        const digest = `sha256:${createHash("sha256").update(content).digest("hex")}`;
        const started = await fetch(`http://${this.host}/v2/${path}/blobs/uploads/`, { method: "POST", headers: this.headers() });
        const location = new URL(started.headers.get("location")!, `http://${this.host}`);
        location.searchParams.set("digest", digest);
        const done = await fetch(location, { method: "PUT", body: content, headers: this.headers({ "Content-Type": "application/octet-stream" }) });
        if (done.status !== 201) throw new Error(`blob upload: HTTP ${done.status}`);
        return digest;
    }

    /** Pushes a one-layer image (`layer` is its content) as `path:tag`; its manifest digest, as the registry reports it. */
    async push(path: string, tag: string, layer: string): Promise<string> {
        const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
        const layerBytes = Buffer.from(layer);
        const manifest = JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: await this.upload(path, config), size: config.length },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: await this.upload(path, layerBytes), size: layerBytes.length }],
        });
        const put = await fetch(`http://${this.host}/v2/${path}/manifests/${tag}`, { method: "PUT", body: manifest, headers: this.headers({ "Content-Type": "application/vnd.oci.image.manifest.v1+json" }) });
        if (put.status !== 201) throw new Error(`manifest push: HTTP ${put.status} ${await put.text()}`);
        return put.headers.get("docker-content-digest")!;
    }

    /** Stops the registry and removes its storage. */
    async stop(): Promise<void> {
        const child = this.child;
        if (child && child.exitCode === null) {
            await new Promise<void>((done) => {
                child.once("exit", () => done());
                child.kill("SIGTERM");
            });
        }
        rmSync(this.dir, { recursive: true, force: true });
    }
}
