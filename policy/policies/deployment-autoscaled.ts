import type { StackValidationPolicy } from "@pulumi/policy";
import { autoscaledDeployments } from "../lib/policy";

/** Every Deployment is scaled by exactly one HPA, with room to scale (maxReplicas above minReplicas). */
export const deploymentAutoscaled: StackValidationPolicy = {
    name: "k8s-deployment-autoscaled",
    description: "Every Deployment has exactly one HorizontalPodAutoscaler targeting it, with maxReplicas greater than minReplicas.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateStack: (args, report) => {
        for (const { d, owners } of autoscaledDeployments(args)) {
            if (owners.length === 0) {
                report(`${d.label} has no HorizontalPodAutoscaler; add one with scaleTargetRef {kind: Deployment, name: ${d.name}} in namespace ${d.namespace}.`, d.resource.urn);
            } else if (owners.length > 1) {
                report(`${d.label} is targeted by ${owners.length} HorizontalPodAutoscalers (${owners.map((h) => h.label).join(", ")}); keep exactly one, they fight over the replica count.`, d.resource.urn);
            } else {
                const [h] = owners;
                if (h && h.maxReplicas !== undefined && h.maxReplicas <= h.minReplicas) {
                    report(`${h.label} for ${d.label} has maxReplicas ${h.maxReplicas} not above minReplicas ${h.minReplicas}, so it cannot scale; raise maxReplicas (the service's replicas.max).`, h.resource.urn);
                }
            }
        }
    },
};
