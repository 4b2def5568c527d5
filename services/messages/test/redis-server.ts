/**
 * A real Redis server for the tests and the bench: Debian's `redis-server` (installed by .ci/run),
 * started on 127.0.0.1 with a port that was free a moment ago, data in a temporary directory
 * (append-only file, fsync on every write, so a SIGKILL loses nothing and a restart on the same
 * directory brings the data back), stopped and removed after.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../kit/test/support";

/** The one line a missing redis-server fails with. */
export const MISSING_REDIS =
    "redis-server is not installed: the messages tests need a real Redis server; install it with `apt-get install -y redis-server` (Debian/Ubuntu; .ci/run does this)";

/** Path of redis-server on `path` (default this process's PATH), or throws {@link MISSING_REDIS}. */
export function redisServerPath(path = process.env.PATH ?? ""): string {
    try {
        return execFileSync("/bin/sh", ["-c", "command -v redis-server"], { encoding: "utf8", env: { PATH: path } }).trim();
    } catch {
        throw new Error(MISSING_REDIS);
    }
}

/** A running redis-server. */
export class RedisServer {
    private child: ChildProcess | undefined;
    private exited: Promise<void> = Promise.resolve();

    private constructor(
        readonly port: number,
        /** Its data directory (removed by {@link stop}). */
        readonly dir: string,
        private readonly binary: string,
    ) {}

    /** Starts a server on a free port of 127.0.0.1 and waits until it answers PING. */
    static async start(): Promise<RedisServer> {
        const binary = redisServerPath();
        const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), "kubeforge-redis-")), binary);
        await server.launch();
        return server;
    }

    /** `redis://127.0.0.1:<port>`. */
    get url(): string {
        return `redis://127.0.0.1:${this.port}`;
    }

    /** Kills the server with `signal` (SIGKILL: a crash) and waits until it is gone. */
    async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
        const exited = this.exited;
        this.child?.kill(signal);
        await exited;
        this.child = undefined;
    }

    /** Freezes the server (SIGSTOP): it keeps its connections but answers nothing, as a hung store does. */
    pause(): void {
        this.child?.kill("SIGSTOP");
    }

    /** Thaws a paused server. */
    resume(): void {
        this.child?.kill("SIGCONT");
    }

    /** Starts the server again on the same port and data directory. */
    async restart(): Promise<void> {
        await this.launch();
    }

    /** Kills the server and removes its data. */
    async stop(): Promise<void> {
        this.resume();
        await this.kill();
        rmSync(this.dir, { recursive: true, force: true });
    }

    /**
     * Sends inline commands on one connection and returns the last reply, raw (for setup:
     * FLUSHALL, DBSIZE, CONFIG SET; single-line replies only).
     */
    command(...lines: string[]): Promise<string> {
        return new Promise((resolve, reject) => {
            const socket = connect(this.port, "127.0.0.1");
            let reply = "";
            socket.setTimeout(2000, () => socket.destroy(new Error(`redis-server did not answer ${lines.join("; ")}`)));
            socket.on("error", reject);
            socket.on("data", (chunk) => {
                reply += chunk.toString();
                const replies = reply.split("\r\n").slice(0, -1);
                if (replies.length >= lines.length) {
                    socket.end();
                    resolve(replies[lines.length - 1] ?? "");
                }
            });
            socket.write(lines.map((line) => `${line}\r\n`).join(""));
        });
    }

    private async launch(): Promise<void> {
        const child = spawn(
            this.binary,
            ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"],
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        let output = "";
        child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
        this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
        this.child = child;
        // Never outlive the test process.
        const reap = () => child.kill("SIGKILL");
        process.once("exit", reap);
        child.once("exit", () => process.off("exit", reap));
        for (let i = 0; i < 200; i++) {
            if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${output}`);
            try {
                if ((await this.command("PING")) === "+PONG") return;
            } catch {
                // not listening yet
            }
            await new Promise((resolve) => setTimeout(resolve, 25));
        }
        child.kill("SIGKILL");
        throw new Error(`redis-server on port ${this.port} did not answer PING: ${output}`);
    }
}
