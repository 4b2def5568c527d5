import type { StackValidationPolicy } from "@pulumi/policy";
import { K8S, labelSelectorText, type PodDisruptionBudget } from "../lib/kubernetes";
import { deploymentsOf, selecting, selectorsOf } from "../lib/policy";

/**
 * Every Deployment's pods are covered by exactly one PodDisruptionBudget: node drains then keep the
 * service up, and the eviction API refuses pods that two budgets select.
 */
export const deploymentDisruptionBudget: StackValidationPolicy = {
    name: "k8s-deployment-disruption-budget",
    description: "Every Deployment's pods are selected by exactly one PodDisruptionBudget.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateStack: (args, report) => {
        const pdbs = selectorsOf<PodDisruptionBudget>(args, K8S.pdb, (p) => p.spec?.selector);
        for (const d of deploymentsOf(args)) {
            const covering = selecting(pdbs, d);
            if (covering.length === 0) {
                report(`${d.label} has no PodDisruptionBudget selecting its pods; add one in namespace ${d.namespace} whose selector matches ${labelSelectorText(d.deployment.spec?.selector?.matchLabels ?? d.podLabels)} (e.g. maxUnavailable: 1).`, d.resource.urn);
            } else if (covering.length > 1) {
                report(`${d.label} pods are selected by ${covering.length} PodDisruptionBudgets (${covering.map((p) => p.label).join(", ")}); keep exactly one, the eviction API refuses pods with several.`, d.resource.urn);
            }
        }
    },
};
