import type { StackValidationPolicy } from "@pulumi/policy";
import { K8S, type PodDisruptionBudget, scaledCount } from "../lib/kubernetes";
import { autoscaledDeployments, selecting, selectorsOf } from "../lib/policy";

/**
 * Why a budget blocks every voluntary disruption of `pods` pods, or undefined when it lets at
 * least one pod go.
 */
export function blockingReason(pdb: PodDisruptionBudget, pods: number): string | undefined {
    const { minAvailable, maxUnavailable } = pdb.spec ?? {};
    if (maxUnavailable !== undefined) {
        const n = scaledCount(maxUnavailable, pods);
        if (n === 0) return `maxUnavailable ${JSON.stringify(maxUnavailable)} lets no pod go`;
    } else if (minAvailable !== undefined) {
        const n = scaledCount(minAvailable, pods);
        if (n !== undefined && n >= pods) return `minAvailable ${JSON.stringify(minAvailable)} keeps all ${pods} pod(s) (the minimum replica count)`;
    }
    return undefined;
}

/**
 * A PodDisruptionBudget never blocks every disruption at the Deployment's minimum size (the HPA's
 * minReplicas): otherwise node drains and cluster upgrades hang forever.
 */
export const pdbAllowsDisruption: StackValidationPolicy = {
    name: "k8s-pdb-allows-disruption",
    description: "PodDisruptionBudgets agree with the HPA: at minReplicas pods, at least one pod may still be evicted.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateStack: (args, report) => {
        const pdbs = selectorsOf<PodDisruptionBudget>(args, K8S.pdb, (p) => p.spec?.selector);
        for (const { d, owners } of autoscaledDeployments(args)) {
            const pods = owners.length > 0 ? Math.min(...owners.map((h) => h.minReplicas)) : (d.deployment.spec?.replicas ?? 1);
            const source = owners.length > 0 ? "the HPA's minReplicas" : "spec.replicas";
            for (const p of selecting(pdbs, d)) {
                const reason = blockingReason(p.object, pods);
                if (reason) {
                    report(`${p.label} blocks every eviction of ${d.label}: ${reason} with ${source} ${pods}; use maxUnavailable: 1${pods > 1 ? `, or a minAvailable below ${pods}` : ""}.`, p.resource.urn);
                }
            }
        }
    },
};
