import type { StackValidationPolicy } from "@pulumi/policy";
import { K8S, labelSelectorText, type NetworkPolicy } from "../lib/kubernetes";
import { podControllersOf, selecting, selectorsOf } from "../lib/policy";

/**
 * Every Deployment's and StatefulSet's pods are fenced by at least one NetworkPolicy, so only
 * declared callers reach them (a store in a StatefulSet most of all). The name predates
 * StatefulSets and stays, so pack configs that name it keep working.
 */
export const deploymentNetworkPolicy: StackValidationPolicy = {
    name: "k8s-deployment-network-policy",
    description: "Every Deployment's and StatefulSet's pods are selected by at least one NetworkPolicy.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
        const policies = selectorsOf<NetworkPolicy>(args, K8S.networkPolicy, (n) => n.spec?.podSelector);
        for (const d of podControllersOf(args)) {
            if (selecting(policies, d).length === 0) {
                report(`${d.label} has no NetworkPolicy selecting its pods, so anything in the cluster can reach them; add one in namespace ${d.namespace} whose podSelector matches ${labelSelectorText(d.deployment.spec?.selector?.matchLabels ?? d.podLabels)}.`, d.resource.urn);
            }
        }
    },
};
