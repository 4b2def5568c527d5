/**
 * A real `pulumi up` of a stack file still carrying example values stops before the EKS component
 * creates anything (the engine is stood in for by mocks with `realUpdate` forced on), and goes
 * ahead once real values are set.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import { EksCluster } from "../components/cluster/eks/eks";
import type { Settings } from "../components/config";
import { runUnderMocks, type RecordedResource } from "../scripts/mocks";
import { stackSettings } from "./eks-mocks";

vi.mock("../components/runtime", async (original) => ({ ...(await original<typeof import("../components/runtime")>()), realUpdate: () => true }));

async function build(settings: Settings): Promise<{ resources: RecordedResource[]; error: unknown }> {
    let error: unknown;
    const run = await runUnderMocks(settings.stack, {}, async () => {
        try {
            new EksCluster(`kubeforge-${settings.stack}`, { settings });
        } catch (e) {
            error = e;
        }
        return {};
    });
    return { resources: run.resources, error };
}

describe("EKS placeholders during a real update", () => {
    it("refuses the committed prod stack file with one line per example value, having created nothing", async () => {
        const { resources, error } = await build(stackSettings("prod"));
        expect(error).toBeInstanceOf(pulumi.RunError);
        expect((error as Error).message.split("\n").map((l) => l.slice(0, l.indexOf(": ")))).toEqual(["kubeforge:cluster.eks.adminPrincipalArn", "kubeforge:cluster.eks.previewPrincipalArn", "kubeforge:cluster.eks.publicAccessCidrs[0]"]);
        // Only the component itself registered: no provider, no KMS key, no cluster.
        expect(resources.map((r) => r.type)).toEqual(["kubeforge:cluster:EksCluster"]);
    });

    it("builds the cluster once real values are set", async () => {
        const settings = stackSettings("prod", (raw) => {
            const eks = (raw.cluster as { eks: Record<string, unknown> }).eks;
            eks.adminPrincipalArn = "arn:aws:iam::210987654321:role/platform-admin";
            eks.previewPrincipalArn = "arn:aws:iam::210987654321:role/kubeforge-preview";
            eks.publicAccessCidrs = ["198.18.0.0/24"];
        }, "real");
        const { resources, error } = await build(settings);
        expect(error).toBeUndefined();
        expect(resources.filter((r) => r.type === "aws:eks/cluster:Cluster").map((r) => r.name)).toEqual(["kubeforge-real-cluster"]);
    });
});
