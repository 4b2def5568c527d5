import type { StackValidationPolicy } from "@pulumi/policy";
import { autoscaledDeployments } from "../lib/policy";

/**
 * A Deployment an HPA scales leaves `spec.replicas` unset: otherwise every update resets the
 * replica count the HPA chose.
 */
export const noReplicasUnderHpa: StackValidationPolicy = {
    name: "k8s-no-replicas-under-hpa",
    description: "Deployments scaled by a HorizontalPodAutoscaler do not set spec.replicas.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateStack: (args, report) => {
        for (const { d, owners } of autoscaledDeployments(args)) {
            if (d.deployment.spec?.replicas !== undefined && owners.length > 0) {
                report(`${d.label} sets spec.replicas ${d.deployment.spec.replicas} although ${owners.map((h) => h.label).join(", ")} scales it; remove spec.replicas so updates do not reset the HPA's choice.`, d.resource.urn);
            }
        }
    },
};
