import { describe, expect, it } from "vitest";
import type { Deployment, HorizontalPodAutoscaler, NetworkPolicy, PodDisruptionBudget } from "../lib/kubernetes";
import { selects } from "../lib/kubernetes";
import type { SynthResource } from "../runner";
import { deploymentAutoscaled } from "../policies/deployment-autoscaled";
import { deploymentDisruptionBudget } from "../policies/deployment-disruption-budget";
import { deploymentNetworkPolicy } from "../policies/deployment-network-policy";
import { noReplicasUnderHpa } from "../policies/no-replicas-under-hpa";
import { blockingReason, pdbAllowsDisruption } from "../policies/pdb-allows-disruption";
import { check, fixture, inputsOf, messages } from "./util";

const BACKEND_URN = "urn:pulumi:test::kubeforge::kubeforge:index:Microservice$kubernetes:apps/v1:Deployment::backend-deployment";

function without(resources: SynthResource[], ...names: string[]): SynthResource[] {
    return resources.filter((r) => !names.includes(r.name));
}

function copyOf(resources: SynthResource[], name: string, newName: string): SynthResource {
    const r = resources.find((x) => x.name === name);
    if (!r) throw new Error(`no ${name}`);
    const copy = structuredClone(r);
    copy.name = newName;
    (copy.inputs as { metadata: { name: string } }).metadata.name = newName;
    resources.push(copy);
    return copy;
}

describe("label selectors", () => {
    const labels = { "app.kubernetes.io/name": "backend", tier: "web" };
    it("match by labels and expressions; empty selects all, missing selects none", () => {
        expect(selects({ matchLabels: { tier: "web" } }, labels)).toBe(true);
        expect(selects({ matchLabels: { tier: "db" } }, labels)).toBe(false);
        expect(selects({ matchExpressions: [{ key: "tier", operator: "In", values: ["web", "api"] }] }, labels)).toBe(true);
        expect(selects({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["web"] }] }, labels)).toBe(false);
        expect(selects({ matchExpressions: [{ key: "team", operator: "Exists" }] }, labels)).toBe(false);
        expect(selects({ matchExpressions: [{ key: "team", operator: "DoesNotExist" }] }, labels)).toBe(true);
        expect(selects({}, labels)).toBe(true);
        expect(selects(undefined, labels)).toBe(false);
    });
});

describe("k8s-no-replicas-under-hpa", () => {
    it("accepts Deployments that leave replicas to their HPA", async () => {
        expect(await messages(noReplicasUnderHpa, fixture("compliant"))).toEqual([]);
    });

    it("reports spec.replicas on an autoscaled Deployment, against that Deployment", async () => {
        const resources = fixture("compliant");
        inputsOf<Deployment>(resources, "backend-deployment").spec!.replicas = 3;
        const found = await messages(noReplicasUnderHpa, resources);
        expect(found).toEqual([
            "Deployment kubeforge/backend sets spec.replicas 3 although HorizontalPodAutoscaler kubeforge/backend scales it; remove spec.replicas so updates do not reset the HPA's choice.",
        ]);
    });

    it("allows spec.replicas when no HPA targets the Deployment", async () => {
        const resources = without(fixture("compliant"), "backend-hpa");
        inputsOf<Deployment>(resources, "backend-deployment").spec!.replicas = 3;
        expect(await messages(noReplicasUnderHpa, resources)).toEqual([]);
    });
});

describe("k8s-deployment-autoscaled", () => {
    it("accepts one HPA per Deployment with room to scale", async () => {
        expect(await messages(deploymentAutoscaled, fixture("compliant"))).toEqual([]);
    });

    it("reports a Deployment without an HPA, with the scaleTargetRef to add", async () => {
        const [v, ...rest] = await check(deploymentAutoscaled, without(fixture("compliant"), "backend-hpa"));
        expect(rest).toEqual([]);
        expect(v?.urn).toBe(BACKEND_URN);
        expect(v?.message).toBe("Deployment kubeforge/backend has no HorizontalPodAutoscaler; add one with scaleTargetRef {kind: Deployment, name: backend} in namespace kubeforge.");
    });

    it("does not count an HPA in another namespace or for another kind", async () => {
        const resources = fixture("compliant");
        inputsOf<HorizontalPodAutoscaler>(resources, "backend-hpa").metadata!.namespace = "other";
        inputsOf<HorizontalPodAutoscaler>(resources, "messages-hpa").spec!.scaleTargetRef!.kind = "StatefulSet";
        const found = await messages(deploymentAutoscaled, resources);
        expect(found.map((m) => m.split(" has ")[0])).toEqual(["Deployment kubeforge/backend", "Deployment kubeforge/messages"]);
    });

    it("reports two HPAs on one Deployment", async () => {
        const resources = fixture("compliant");
        copyOf(resources, "backend-hpa", "backend-hpa-2");
        const found = await messages(deploymentAutoscaled, resources);
        expect(found).toEqual([
            "Deployment kubeforge/backend is targeted by 2 HorizontalPodAutoscalers (HorizontalPodAutoscaler kubeforge/backend, HorizontalPodAutoscaler kubeforge/backend-hpa-2); keep exactly one, they fight over the replica count.",
        ]);
    });

    it("reports an HPA whose max does not exceed its min", async () => {
        const resources = fixture("compliant");
        Object.assign(inputsOf<HorizontalPodAutoscaler>(resources, "reports-hpa").spec!, { minReplicas: 3, maxReplicas: 3 });
        expect(await messages(deploymentAutoscaled, resources)).toEqual([
            "HorizontalPodAutoscaler kubeforge/reports for Deployment kubeforge/reports has maxReplicas 3 not above minReplicas 3, so it cannot scale; raise maxReplicas (the service's replicas.max).",
        ]);
    });
});

describe("k8s-deployment-disruption-budget", () => {
    it("accepts one PDB per Deployment", async () => {
        expect(await messages(deploymentDisruptionBudget, fixture("compliant"))).toEqual([]);
    });

    it("reports a Deployment whose pods no PDB selects, with the selector to use", async () => {
        const resources = fixture("compliant");
        inputsOf<PodDisruptionBudget>(resources, "messages-pdb").spec!.selector = { matchLabels: { "app.kubernetes.io/name": "message" } };
        expect(await messages(deploymentDisruptionBudget, resources)).toEqual([
            'Deployment kubeforge/messages has no PodDisruptionBudget selecting its pods; add one in namespace kubeforge whose selector matches app.kubernetes.io/instance=messages-prod,app.kubernetes.io/name=messages (e.g. maxUnavailable: 1).',
        ]);
    });

    it("reports pods selected by two PDBs", async () => {
        const resources = fixture("compliant");
        copyOf(resources, "backend-pdb", "backend-pdb-2");
        const found = await messages(deploymentDisruptionBudget, resources);
        expect(found).toHaveLength(1);
        expect(found[0]).toContain("Deployment kubeforge/backend pods are selected by 2 PodDisruptionBudgets");
        expect(found[0]).toContain("keep exactly one");
    });
});

describe("k8s-deployment-network-policy", () => {
    it("accepts Deployments fenced by their own NetworkPolicy", async () => {
        expect(await messages(deploymentNetworkPolicy, fixture("compliant"))).toEqual([]);
    });

    it("reports a Deployment no NetworkPolicy selects", async () => {
        const found = await messages(deploymentNetworkPolicy, without(fixture("compliant"), "reports-netpol"));
        expect(found).toHaveLength(1);
        expect(found[0]).toMatch(/^Deployment kubeforge\/reports has no NetworkPolicy selecting its pods, .*add one in namespace kubeforge whose podSelector matches/);
    });

    it("holds StatefulSets (a store) to the same rule", async () => {
        const resources = fixture("compliant");
        const store = copyOf(resources, "backend-deployment", "store");
        store.type = "kubernetes:apps/v1:StatefulSet";
        const labels = { "app.kubernetes.io/name": "store", "app.kubernetes.io/instance": "store-prod" };
        const spec = (store.inputs as Deployment).spec!;
        spec.selector = { matchLabels: labels };
        spec.template!.metadata = { labels };
        expect(await messages(deploymentNetworkPolicy, resources)).toEqual([
            expect.stringMatching(/^StatefulSet kubeforge\/store has no NetworkPolicy selecting its pods, .*podSelector matches app.kubernetes.io\/instance=store-prod,app.kubernetes.io\/name=store\.$/),
        ]);
        const fence = copyOf(resources, "backend-netpol", "store-netpol");
        (fence.inputs as NetworkPolicy).spec!.podSelector = { matchLabels: labels };
        expect(await messages(deploymentNetworkPolicy, resources)).toEqual([]);
    });

    it("counts a namespace-wide default-deny policy, but not one in another namespace", async () => {
        const resources = without(fixture("compliant"), "reports-netpol");
        const deny = copyOf(resources, "backend-netpol", "default-deny");
        (deny.inputs as NetworkPolicy).spec!.podSelector = {};
        expect(await messages(deploymentNetworkPolicy, resources)).toEqual([]);
        (deny.inputs as NetworkPolicy).metadata!.namespace = "other";
        expect(await messages(deploymentNetworkPolicy, resources)).toHaveLength(1);
    });
});

describe("k8s-pdb-allows-disruption", () => {
    it("computes whether a budget lets a pod go", () => {
        expect(blockingReason({ spec: { maxUnavailable: 1 } }, 2)).toBeUndefined();
        expect(blockingReason({ spec: { maxUnavailable: "0%" } }, 5)).toContain("lets no pod go");
        expect(blockingReason({ spec: { maxUnavailable: "10%" } }, 2)).toBeUndefined();
        expect(blockingReason({ spec: { minAvailable: 1 } }, 2)).toBeUndefined();
        expect(blockingReason({ spec: { minAvailable: 2 } }, 2)).toContain("keeps all 2 pod(s)");
        expect(blockingReason({ spec: { minAvailable: "50%" } }, 2)).toBeUndefined();
        expect(blockingReason({ spec: { minAvailable: "60%" } }, 2)).toContain("keeps all");
    });

    it("accepts maxUnavailable 1", async () => {
        expect(await messages(pdbAllowsDisruption, fixture("compliant"))).toEqual([]);
    });

    it("reports minAvailable at the HPA's minimum, naming both objects and the fix", async () => {
        const resources = fixture("compliant");
        inputsOf<PodDisruptionBudget>(resources, "backend-pdb").spec = { selector: { matchLabels: { "app.kubernetes.io/name": "backend" } }, minAvailable: 2 };
        expect(await messages(pdbAllowsDisruption, resources)).toEqual([
            "PodDisruptionBudget kubeforge/backend blocks every eviction of Deployment kubeforge/backend: minAvailable 2 keeps all 2 pod(s) (the minimum replica count) with the HPA's minReplicas 2; use maxUnavailable: 1, or a minAvailable below 2.",
        ]);
    });

    it("reports maxUnavailable 0, and judges a Deployment without HPA by spec.replicas", async () => {
        const resources = without(fixture("compliant"), "messages-hpa");
        inputsOf<PodDisruptionBudget>(resources, "messages-pdb").spec!.maxUnavailable = 0;
        const found = await messages(pdbAllowsDisruption, resources);
        expect(found).toHaveLength(1);
        expect(found[0]).toContain("PodDisruptionBudget kubeforge/messages blocks every eviction of Deployment kubeforge/messages: maxUnavailable 0 lets no pod go with spec.replicas 1");
    });
});
