import type { ResourceValidationPolicy } from "@pulumi/policy";
import type { Container } from "../lib/kubernetes";
import { containersOf } from "../lib/kubernetes";
import { validateWorkload } from "../lib/policy";

/** The resource settings a container must declare, as `requests.cpu` style paths. */
export function missingResources(c: Container): string[] {
    const missing: string[] = [];
    const set = (v: string | number | undefined) => v !== undefined && v !== "";
    if (!set(c.resources?.requests?.cpu)) missing.push("resources.requests.cpu");
    if (!set(c.resources?.requests?.memory)) missing.push("resources.requests.memory");
    if (!set(c.resources?.limits?.memory)) missing.push("resources.limits.memory");
    return missing;
}

/**
 * Every container requests CPU and memory (the scheduler and the HPA's utilization need them)
 * and limits memory (a leak is killed instead of starving its neighbours).
 */
export const resourceRequests: ResourceValidationPolicy = {
    name: "k8s-resource-requests",
    description: "Containers declare CPU and memory requests and a memory limit.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateWorkload((spec, label, report) => {
        for (const { label: container, container: c } of containersOf(spec)) {
            const missing = missingResources(c);
            if (missing.length > 0) report(`${label} ${container} does not set ${missing.join(", ")}; set them (e.g. requests cpu 100m, memory 128Mi; limits memory 256Mi).`);
        }
    }),
};
