/**
 * The admin access check (components/cluster/eks/admin-access-check.mjs) run for real, as the
 * local.Command runs it (`node --input-type=module -e <file>`), against an HTTPS server on
 * 127.0.0.1 standing in for the EKS API endpoint, with a stand-in `aws` CLI on PATH that prints a
 * token the way `aws eks get-token --output json` does (an ExecCredential).
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_ACCESS_CHECK_FILE } from "../components/cluster/eks/access";

const TLS = join(__dirname, "fixtures", "tls");
const cert = readFileSync(join(TLS, "localhost.crt"));
const key = readFileSync(join(TLS, "localhost.key"));

interface Seen {
    method?: string;
    url?: string;
    authorization?: string;
    body: string;
}

/** A fake API server answering each SelfSubjectAccessReview with the next of `answers` (the last repeats). */
async function fakeApi(answers: { status: number; allowed?: boolean }[]): Promise<{ server: Server; endpoint: string; seen: Seen[] }> {
    const seen: Seen[] = [];
    const server = createServer({ cert, key }, (req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString()));
        req.on("end", () => {
            seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
            const answer = answers[Math.min(seen.length, answers.length) - 1] ?? { status: 500 };
            res.writeHead(answer.status, { "content-type": "application/json" });
            res.end(JSON.stringify(answer.status === 201 ? { kind: "SelfSubjectAccessReview", status: { allowed: answer.allowed } } : { kind: "Status", code: answer.status }));
        });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    return { server, endpoint: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

let bin: string;
beforeAll(() => {
    bin = mkdtempSync(join(tmpdir(), "kubeforge-aws-"));
    const aws = join(bin, "aws");
    // Prints an ExecCredential, and records its arguments.
    writeFileSync(aws, `#!/bin/sh\necho "$@" > "${join(bin, "args")}"\necho '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"k8s-aws-v1.fake"}}'\n`);
    chmodSync(aws, 0o755);
});
afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** Run the check as the Command would, with the given settings; resolves to its exit code and output. */
function runCheck(endpoint: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", readFileSync(ADMIN_ACCESS_CHECK_FILE, "utf8")], {
            env: { PATH: `${bin}${delimiter}${process.env.PATH ?? ""}`, CLUSTER: "kubeforge-prod", REGION: "eu-west-1", ENDPOINT: endpoint, CA_DATA: cert.toString("base64"), INTERVAL_SECONDS: "0.05", ...env },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

describe("the admin access check", () => {
    it("waits through 401s and a not-yet-allowed review, then succeeds once the admin may create Secrets in kube-system", async () => {
        const api = await fakeApi([{ status: 401 }, { status: 401 }, { status: 201, allowed: false }, { status: 201, allowed: true }]);
        try {
            const result = await runCheck(api.endpoint, { WAIT_SECONDS: "30" });
            expect(result).toMatchObject({ code: 0, stderr: "" });
            expect(result.stdout.trim()).toBe("EKS cluster kubeforge-prod: the admin access entry works (attempt 4)");
            expect(api.seen).toHaveLength(4);
            for (const request of api.seen) {
                expect(request).toMatchObject({ method: "POST", url: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", authorization: "Bearer k8s-aws-v1.fake" });
                expect(JSON.parse(request.body)).toEqual({ apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: { namespace: "kube-system", verb: "create", group: "", resource: "secrets" } } });
            }
            // The token comes from the caller's AWS credentials, exactly as the kubeconfig gets it.
            expect(readFileSync(join(bin, "args"), "utf8").trim()).toBe("eks get-token --cluster-name kubeforge-prod --region eu-west-1 --output json");
        } finally {
            api.server.close();
        }
    });

    it("gives up after its bound with one line naming the cluster, the last answer and what to check", async () => {
        const api = await fakeApi([{ status: 401 }]);
        try {
            const result = await runCheck(api.endpoint, { WAIT_SECONDS: "0.3" });
            expect(result.code).toBe(1);
            expect(result.stdout).toBe("");
            expect(result.stderr.trim().split("\n")).toEqual([
                "EKS cluster kubeforge-prod: the admin access entry did not take effect within 0.3 s (last answer: HTTP 401); check that pulumi runs as kubeforge:cluster.eks.adminPrincipalArn, then run pulumi up again",
            ]);
            expect(api.seen.length).toBeGreaterThan(1);
        } finally {
            api.server.close();
        }
    });

    it("trusts only the cluster's certificate authority", async () => {
        const api = await fakeApi([{ status: 201, allowed: true }]);
        try {
            // With another certificate authority the TLS handshake fails: no request reaches the server.
            const result = await runCheck(api.endpoint, { WAIT_SECONDS: "0.2", CA_DATA: readFileSync(join(TLS, "other-ca.crt")).toString("base64") });
            expect(result.code).toBe(1);
            expect(result.stderr).toContain("last answer: self-signed certificate");
            expect(api.seen).toHaveLength(0);
        } finally {
            api.server.close();
        }
    });
});
