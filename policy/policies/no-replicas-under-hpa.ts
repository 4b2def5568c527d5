import type { StackValidationPolicy } from "@pulumi/policy";
import { deploymentsOf, hpasOf, hpasTargeting } from "../lib/policy";

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
        const hpas = hpasOf(args);
        for (const d of deploymentsOf(args)) {
            const owners = hpasTargeting(hpas, d);
            if (d.deployment.spec?.replicas !== undefined && owners.length > 0) {
                report(`${d.label} sets spec.replicas ${d.deployment.spec.replicas} although ${owners.map((h) => h.label).join(", ")} scales it; remove spec.replicas so updates do not reset the HPA's choice.`, d.resource.urn);
            }
        }
    },
};
