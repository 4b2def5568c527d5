import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { describeObject, K8S, type Service } from "../lib/kubernetes";
import { readConfig, validateType } from "../lib/policy";

const configSchema: PolicyConfigSchema = {
    properties: {
        publicServices: {
            type: "array",
            items: { type: "string" },
            default: [],
            description: "Services allowed a public load balancer, by app.kubernetes.io/name label (or Service name).",
        },
    },
};

/** Only allow-listed services get a load balancer: everything else stays inside the cluster. */
export const publicServices: ResourceValidationPolicy = {
    name: "k8s-public-services",
    description: "Only services on the publicServices allow-list are exposed through a Service of type LoadBalancer.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema,
    validateResource: validateType<Service>(K8S.service, (props, args, report) => {
        if (props.spec?.type !== "LoadBalancer") return;
        const { publicServices: allowed } = readConfig<{ publicServices: string[] }>(configSchema, args);
        const name = props.metadata?.labels?.["app.kubernetes.io/name"] ?? props.metadata?.name ?? args.name;
        if (!allowed.includes(name)) {
            report(`${describeObject(args.type, props, args.name)} is a public LoadBalancer but "${name}" is not on the publicServices allow-list (${allowed.join(", ") || "empty"}); make it ClusterIP or add "${name}" to publicServices in policy/config/<stack>.json.`);
        }
    }),
};
