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

/**
 * Annotations that keep a LoadBalancer Service off the internet, per cloud: the AWS Load Balancer
 * Controller's scheme (whose own default is internal, but kubeforge always sets it), GKE's and
 * AKS's internal load-balancer switches.
 */
const INTERNAL_ANNOTATIONS: Readonly<Record<string, string>> = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "networking.gke.io/load-balancer-type": "Internal",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
};

/** Whether a LoadBalancer Service's annotations make it internal (reachable only from its network). */
export function isInternalLoadBalancer(annotations: Record<string, string> | undefined): boolean {
    return Object.entries(INTERNAL_ANNOTATIONS).some(([key, value]) => annotations?.[key] === value);
}

/** Only allow-listed services get an internet-facing load balancer: everything else stays inside the cluster or its network. */
export const publicServices: ResourceValidationPolicy = {
    name: "k8s-public-services",
    description: "Only services on the publicServices allow-list are exposed through an internet-facing Service of type LoadBalancer (internal load balancers are not public).",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema,
    validateResource: validateType<Service>(K8S.service, (props, args, report) => {
        if (props.spec?.type !== "LoadBalancer" || isInternalLoadBalancer(props.metadata?.annotations)) return;
        const { publicServices: allowed } = readConfig<{ publicServices: string[] }>(configSchema, args);
        const name = props.metadata?.labels?.["app.kubernetes.io/name"] ?? props.metadata?.name ?? args.name;
        if (!allowed.includes(name)) {
            report(`${describeObject(args.type, props, args.name)} is a public LoadBalancer but "${name}" is not on the publicServices allow-list (${allowed.join(", ") || "empty"}); make it ClusterIP or an internal load balancer, or add "${name}" to publicServices in policy/config/<stack>.json.`);
        }
    }),
};
