/**
 * Graceful shutdown of a real service process: SIGTERM under steady keep-alive load loses no
 * request, and the process exits 0 well inside the pod's grace period.
 */
import { request as httpRequest, Agent } from "node:http";
import { describe, expect, it } from "vitest";
import { spawnService } from "./support";

type Outcome = "ok" | "refused" | "lost";

/** One POST /reports on `agent`: ok (201), refused (connection never made) or lost (anything else). */
function postReport(url: string, agent: Agent, size: number): Promise<Outcome> {
    return new Promise((resolve) => {
        const body = JSON.stringify({ size });
        const req = httpRequest(`${url}/reports`, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
            let text = "";
            res.on("data", (chunk: Buffer) => (text += chunk.toString()));
            res.on("end", () => resolve(res.statusCode === 201 && text.includes(`"id":"${size}-1"`) ? "ok" : "lost"));
            res.on("error", () => resolve("lost"));
        });
        req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED" ? "refused" : "lost"));
        req.end(body);
    });
}

describe("SIGTERM under load", () => {
    it("finishes every accepted request, refuses only new connections, and exits 0", async () => {
        const service = await spawnService("reports", { SHUTDOWN_TIMEOUT_MS: "5000" });
        const counts: Record<Outcome, number> = { ok: 0, refused: 0, lost: 0 };
        let terminatedAt = 0;
        // Eight clients, each on its own keep-alive connection, sending back to back until the
        // service stops taking connections (in a cluster they would move on to another pod).
        // One asks for larger reports (about 10 ms each, more than the others together; with
        // reports' one worker the others queue behind it), so a report is in flight at SIGTERM.
        const workers = Array.from({ length: 8 }, async (_, i) => {
            const agent = new Agent({ keepAlive: true, maxSockets: 1 });
            const size = i === 0 ? 50_000 : 2000;
            for (;;) {
                const outcome = await postReport(service.url, agent, size);
                counts[outcome]++;
                if (outcome === "refused") break;
                if (terminatedAt && Date.now() - terminatedAt > 10_000) break;
            }
            agent.destroy();
        });
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const beforeTerm = counts.ok;
        terminatedAt = Date.now();
        service.child.kill("SIGTERM");
        const code = await service.exited;
        const exitedAfterMs = Date.now() - terminatedAt;
        await Promise.all(workers);

        console.log(`SIGTERM under load: ${counts.ok + counts.lost} requests sent, ${counts.ok} ok, ${counts.lost} lost, ${counts.refused} connections refused after close; exit ${code} after ${exitedAfterMs} ms`);
        expect(beforeTerm).toBeGreaterThan(50);
        expect(counts.lost).toBe(0);
        expect(code).toBe(0);
        expect(exitedAfterMs).toBeLessThan(5000);
        const messages = service.logs.map((l) => l.msg);
        expect(messages).toEqual(expect.arrayContaining(["shutdown requested", "draining", "stopped"]));
    });
});
