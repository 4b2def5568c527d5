import type { ResourceValidationPolicy } from "@pulumi/policy";
import type { Container, PodSpec } from "../lib/kubernetes";
import { containersOf } from "../lib/kubernetes";
import { validateWorkload } from "../lib/policy";

/** What a container's effective security context lacks, against the `restricted` Pod Security Standard. */
export function securityGaps(pod: PodSpec, c: Container): string[] {
    const sc = c.securityContext ?? {};
    const gaps: string[] = [];
    const nonRoot = sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
    const uid = sc.runAsUser ?? pod.securityContext?.runAsUser;
    if (nonRoot !== true || uid === 0) gaps.push("runAsNonRoot: true (and no runAsUser 0)");
    if (sc.readOnlyRootFilesystem !== true) gaps.push("readOnlyRootFilesystem: true");
    if (sc.allowPrivilegeEscalation !== false) gaps.push("allowPrivilegeEscalation: false");
    if (sc.privileged === true) gaps.push("privileged: false");
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) gaps.push('capabilities.drop: ["ALL"]');
    return gaps;
}

/** Containers run as non-root, on a read-only root filesystem, unable to gain privileges, with every capability dropped. */
export const restrictedSecurityContext: ResourceValidationPolicy = {
    name: "k8s-restricted-security-context",
    description: "Containers run as non-root with a read-only root filesystem, no privilege escalation and all capabilities dropped.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: validateWorkload((spec, label, report) => {
        for (const { label: container, container: c } of containersOf(spec)) {
            const gaps = securityGaps(spec, c);
            if (gaps.length > 0) report(`${label} ${container} securityContext lacks ${gaps.join(", ")}; set them on the container.`);
        }
    }),
};
