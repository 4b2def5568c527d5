import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EksCluster } from "../lib/aws";
import { validateType } from "../lib/policy";

/** EKS control planes send the Kubernetes audit log to CloudWatch. */
export const eksAuditLogging: ResourceValidationPolicy = {
    name: "eks-audit-logging",
    description: "EKS clusters enable control-plane audit logging (enabledClusterLogTypes includes \"audit\").",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateType<EksCluster>(AWS.eksCluster, (props, args, report) => {
        if (!(props.enabledClusterLogTypes ?? []).includes("audit")) {
            report(`EKS cluster "${args.name}" does not log audit events; add "audit" to enabledClusterLogTypes (with "api" and "authenticator").`);
        }
    }),
};
