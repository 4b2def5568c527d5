/**
 * The real pack, as the Pulumi engine meets it: `policy/index.ts` runs in a child process (never
 * imported here: constructing the PolicyPack starts its gRPC server), and this test speaks the
 * engine's analyzer protocol to it (GetAnalyzerInfo, Configure, Analyze per resource,
 * AnalyzeStack), with the policy config a stack's JSON file gives. It must report exactly what
 * the offline runner reports.
 */
import * as grpc from "@grpc/grpc-js";
import * as analyzer from "@pulumi/pulumi/proto/analyzer_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policies } from "../policies";
import { type PackConfig, parsePackConfig, policySettings, runPolicies, toPolicyResources } from "../runner";
import { fixture } from "./util";

const PACK_DIR = join(__dirname, "..");
const LEVELS = { advisory: 0, mandatory: 1, disabled: 2, remediate: 3 } as const;

let pack: ChildProcess;
let client: AnalyzerClient;

function call<Req, Res>(method: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => method.call(client, req, (err, res) => (err ? reject(err) : resolve(res))));
}

beforeAll(async () => {
    pack = spawn(join(PACK_DIR, "node_modules", ".bin", "ts-node"), ["index.ts"], { cwd: PACK_DIR, stdio: ["ignore", "pipe", "inherit"] });
    // The pack prints the port it serves on, as the engine expects.
    const port = await new Promise<string>((resolve, reject) => {
        pack.stdout?.once("data", (d: Buffer) => resolve(String(d).trim()));
        pack.once("exit", (code) => reject(new Error(`the policy pack exited (${code}) before serving`)));
    });
    client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, 120_000);

afterAll(() => {
    client?.close();
    pack?.kill();
});

/** Configure the served pack as `pulumi preview --policy-pack-config <file>` would. */
async function configure(config: PackConfig): Promise<void> {
    const req = new analyzer.ConfigureAnalyzerRequest();
    for (const p of policies) {
        const { enforcementLevel, knobs } = policySettings(p, config);
        const pc = new analyzer.PolicyConfig();
        pc.setEnforcementlevel(LEVELS[enforcementLevel]);
        pc.setProperties(Struct.fromJavaScript(knobs as Record<string, never>));
        req.getPolicyconfigMap().set(p.name, pc);
    }
    await call(client.configure, req);
}

/** Every diagnostic the served pack gives for a stack, as `policy|level|urn|message`. */
async function serve(stack: string, config: PackConfig, name: "broken" | "compliant"): Promise<string[]> {
    await configure(config);
    const resources = toPolicyResources(fixture(name), stack).map((r) => {
        const ar = new analyzer.AnalyzerResource();
        ar.setType(r.type);
        ar.setName(r.name);
        ar.setUrn(r.urn);
        ar.setProperties(Struct.fromJavaScript(r.props as Record<string, never>));
        ar.setOptions(new analyzer.AnalyzerResourceOptions());
        if (r.parent) ar.setParent(r.parent.urn);
        return ar;
    });
    const found: string[] = [];
    const record = (d: analyzer.AnalyzeDiagnostic, urn: string) => {
        const level = Object.entries(LEVELS).find(([, v]) => v === d.getEnforcementlevel())?.[0];
        // The SDK prefixes our message with the policy's description.
        found.push(`${d.getPolicyname()}|${level}|${d.getUrn() || urn}|${d.getMessage().split("\n").slice(1).join("\n")}`);
    };
    for (const ar of resources) {
        const req = new analyzer.AnalyzeRequest();
        req.setType(ar.getType());
        req.setName(ar.getName());
        req.setUrn(ar.getUrn());
        req.setProperties(ar.getProperties());
        req.setOptions(new analyzer.AnalyzerResourceOptions());
        const res = await call<analyzer.AnalyzeRequest, analyzer.AnalyzeResponse>(client.analyze, req);
        res.getDiagnosticsList().forEach((d) => record(d, ar.getUrn()));
    }
    const stackReq = new analyzer.AnalyzeStackRequest();
    stackReq.setResourcesList(resources);
    const res = await call<analyzer.AnalyzeStackRequest, analyzer.AnalyzeResponse>(client.analyzeStack, stackReq);
    res.getDiagnosticsList().forEach((d) => record(d, ""));
    return found.sort();
}

/** The same, from the offline runner. */
async function offline(stack: string, config: PackConfig, name: "broken" | "compliant"): Promise<string[]> {
    const found = await runPolicies(policies, toPolicyResources(fixture(name), stack), config);
    return found.map((v) => `${v.policy}|${v.enforcementLevel}|${v.urn ?? ""}|${v.message}`).sort();
}

function stackConfig(stack: string): PackConfig {
    const file = join(PACK_DIR, "config", `${stack}.json`);
    return parsePackConfig(readFileSync(file, "utf8"), file, policies);
}

describe("the pack served to the engine", () => {
    it("describes all its policies and their config schemas", async () => {
        const info = await call<Empty, analyzer.AnalyzerInfo>(client.getAnalyzerInfo, new Empty());
        expect(info.getName()).toBe("kubeforge");
        expect(info.getPoliciesList().map((p) => p.getName())).toEqual(policies.map((p) => p.name));
        const withSchema = info.getPoliciesList().filter((p) => p.getConfigschema()).map((p) => p.getName());
        expect(withSchema).toEqual(policies.filter((p) => p.configSchema).map((p) => p.name));
    });

    it.each(["prod", "dev"])("reports exactly what the offline runner reports on the broken fixture (%s config)", async (stack) => {
        const config = stackConfig(stack);
        const served = await serve(stack, config, "broken");
        expect(served.length).toBe(stack === "prod" ? 16 : 13);
        expect(served).toEqual(await offline(stack, config, "broken"));
    });

    it("reports nothing on the compliant fixture", async () => {
        expect(await serve("prod", stackConfig("prod"), "compliant")).toEqual([]);
    });
});
