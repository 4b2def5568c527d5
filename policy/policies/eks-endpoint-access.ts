import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EksCluster } from "../lib/aws";
import { PRODUCTION_KNOB, readConfig, validateType } from "../lib/policy";

const WORLD = ["0.0.0.0/0", "::/0"];

const configSchema: PolicyConfigSchema = { properties: { production: PRODUCTION_KNOB } };

/**
 * In production the Kubernetes API is not open to the whole internet: either the public endpoint
 * is off, or it is limited to known CIDRs (AWS opens it to 0.0.0.0/0 when none are given).
 */
export const eksEndpointAccess: ResourceValidationPolicy = {
    name: "eks-endpoint-access",
    description: "In production stacks the EKS public API endpoint is disabled or restricted to known CIDRs, never 0.0.0.0/0.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema,
    validateResource: validateType<EksCluster>(AWS.eksCluster, (props, args, report) => {
        if (!readConfig<{ production: boolean }>(configSchema, args).production) return;
        const vpc = props.vpcConfig ?? {};
        if (vpc.endpointPublicAccess === false) return;
        const cidrs = vpc.publicAccessCidrs ?? [];
        if (cidrs.length === 0 || cidrs.some((c) => WORLD.includes(c))) {
            const open = cidrs.length === 0 ? "no publicAccessCidrs (AWS then allows 0.0.0.0/0)" : `publicAccessCidrs ${JSON.stringify(cidrs)}`;
            report(`EKS cluster "${args.name}" exposes its public API endpoint to the internet (${open}) in a production stack; set vpcConfig.endpointPublicAccess false or publicAccessCidrs to your office/VPN CIDRs.`);
        }
    }),
};
