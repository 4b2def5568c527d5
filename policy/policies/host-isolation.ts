import type { ResourceValidationPolicy } from "@pulumi/policy";
import { validateWorkload } from "../lib/policy";

/** Pods share nothing with their node: no host network, PID or IPC namespace, no hostPath volume. */
export const hostIsolation: ResourceValidationPolicy = {
    name: "k8s-host-isolation",
    description: "Pods do not use the host network, PID or IPC namespace, nor hostPath volumes.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: validateWorkload((spec, label, report) => {
        for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) {
            if (spec[field] === true) report(`${label} sets ${field}: true; remove it, pods must not share the node's namespaces.`);
        }
        for (const v of spec.volumes ?? []) {
            if (v.hostPath) report(`${label} mounts hostPath ${v.hostPath.path ?? ""} as volume "${v.name ?? ""}"; use an emptyDir, ConfigMap, Secret or PersistentVolumeClaim instead.`);
        }
    }),
};
