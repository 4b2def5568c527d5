import type { ResourceValidationPolicy } from "@pulumi/policy";
import type { Probe } from "../lib/kubernetes";
import { validateWorkload } from "../lib/policy";

/** What a probe checks (its handler), in a canonical form that ignores key order and timings. */
export function probeHandler(p: Probe): string {
    return canonical({ httpGet: p.httpGet, tcpSocket: p.tcpSocket, exec: p.exec, grpc: p.grpc });
}

function canonical(v: unknown): string {
    if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
    if (typeof v === "object" && v !== null) {
        const entries = Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b));
        return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
    }
    return JSON.stringify(v);
}

/**
 * Every long-running container has a readiness probe (traffic only to ready pods) and a liveness
 * probe (a hung process is restarted), and the two check different things: a liveness probe that
 * repeats the readiness check restarts pods that are merely busy.
 */
export const healthProbes: ResourceValidationPolicy = {
    name: "k8s-health-probes",
    description: "Containers have readiness and liveness probes, and the two probes check different things.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateWorkload((spec, label, report, args) => {
        // Run-to-completion pods are not probed for traffic.
        if (args.type === "kubernetes:batch/v1:Job" || args.type === "kubernetes:batch/v1:CronJob") return;
        (spec.containers ?? []).forEach((c, i) => {
            const container = `container "${c.name ?? i}"`;
            if (!c.readinessProbe) report(`${label} ${container} has no readinessProbe; add one (e.g. httpGet /readyz) so only ready pods get traffic.`);
            if (!c.livenessProbe) report(`${label} ${container} has no livenessProbe; add one (e.g. httpGet /healthz) so a hung process is restarted.`);
            if (c.readinessProbe && c.livenessProbe && probeHandler(c.readinessProbe) === probeHandler(c.livenessProbe)) {
                report(`${label} ${container} uses the same check for readinessProbe and livenessProbe; point liveness at a cheaper endpoint (e.g. /healthz) than readiness (e.g. /readyz).`);
            }
        });
    }),
};
