import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { describeObject, type HorizontalPodAutoscaler, K8S } from "../lib/kubernetes";
import { PRODUCTION_KNOB, readConfig, validateType } from "../lib/policy";

const configSchema: PolicyConfigSchema = {
    properties: {
        production: PRODUCTION_KNOB,
        minReplicas: { type: "integer", minimum: 1, default: 2, description: "Lowest HPA minReplicas allowed in production." },
    },
};

/** In production every autoscaled workload keeps at least two pods, so one node failure is not an outage. */
export const productionReplicas: ResourceValidationPolicy = {
    name: "k8s-production-min-replicas",
    description: "In production stacks every HorizontalPodAutoscaler keeps at least minReplicas (default 2) pods.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema,
    validateResource: validateType<HorizontalPodAutoscaler>(K8S.hpa, (props, args, report) => {
        const { production, minReplicas } = readConfig<{ production: boolean; minReplicas: number }>(configSchema, args);
        if (!production) return;
        const min = props.spec?.minReplicas ?? 1;
        if (min < minReplicas) {
            report(`${describeObject(args.type, props, args.name)} has minReplicas ${min} in a production stack; set the service's replicas.min to at least ${minReplicas}.`);
        }
    }),
};
