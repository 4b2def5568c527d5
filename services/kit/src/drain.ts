/**
 * Draining without dropping requests.
 *
 * `http.Server.close()` stops the listener and at once destroys every keep-alive connection that
 * is idle at that instant. A client may already have its next request on the wire on such a
 * connection, and that request is lost (ECONNRESET); under steady load this happens to about one
 * request per open connection. So a drain here:
 * 1. stops accepting new connections, leaving the open ones alone;
 * 2. answers every further request with `Connection: close` (the caller sets that header while
 *    draining), so each busy connection ends cleanly after its current response;
 * 3. ends connections that stay idle for `idleGraceMs`: a request in transit has arrived by then;
 * 4. when `timeoutMs` runs out, destroys whatever is left.
 */
import type { Socket } from "node:net";
import { Server } from "node:net";
import type { FastifyInstance } from "fastify";

/** How long an idle keep-alive connection may stay open during a drain; default of {@link ConnectionTracker.drain}. */
export const IDLE_GRACE_MS = 500;

const POLL_MS = 20;

interface ConnectionState {
    /** Requests received and not yet answered. */
    active: number;
    /** When it last became idle (connected, or answered its last request). */
    idleSince: number;
}

/** Follows the connections of `app` and drains them; see the module comment. */
export class ConnectionTracker {
    private readonly connections = new Map<Socket, ConnectionState>();

    constructor(private readonly app: FastifyInstance) {
        app.server.on("connection", (socket: Socket) => {
            this.connections.set(socket, { active: 0, idleSince: Date.now() });
            socket.once("close", () => this.connections.delete(socket));
        });
        app.addHook("onRequest", async (request) => {
            const state = this.connections.get(request.raw.socket);
            if (state) state.active++;
        });
        app.addHook("onResponse", async (request) => {
            const state = this.connections.get(request.raw.socket);
            if (state) {
                state.active--;
                state.idleSince = Date.now();
            }
        });
    }

    /** Number of open connections. */
    get size(): number {
        return this.connections.size;
    }

    /** Drains as the module comment describes; resolves when no connection is left. */
    async drain(timeoutMs: number, idleGraceMs = IDLE_GRACE_MS): Promise<void> {
        // net.Server's close only stops the listener; http.Server's would also cut idle connections.
        Server.prototype.close.call(this.app.server);
        const deadline = Date.now() + timeoutMs;
        while (this.connections.size > 0) {
            const now = Date.now();
            if (now >= deadline) {
                this.app.log.warn({ connections: this.connections.size }, "drain timeout: closing the remaining connections");
                for (const socket of this.connections.keys()) socket.destroy();
                break;
            }
            for (const [socket, state] of this.connections) {
                if (state.active === 0 && now - state.idleSince >= idleGraceMs) socket.end();
            }
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
    }
}
