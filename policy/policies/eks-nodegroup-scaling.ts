import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EksNodeGroup } from "../lib/aws";

/** Node group sizes are consistent: minSize <= desiredSize <= maxSize. */
export const eksNodeGroupScaling: ResourceValidationPolicy = {
    name: "eks-nodegroup-scaling",
    description: "EKS node groups have minSize <= desiredSize <= maxSize.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: (args, report) => {
        if (args.type !== AWS.eksNodeGroup) return;
        const { minSize, desiredSize, maxSize } = (args.props as EksNodeGroup).scalingConfig ?? {};
        if (minSize === undefined || desiredSize === undefined || maxSize === undefined) return;
        if (!(minSize <= desiredSize && desiredSize <= maxSize)) {
            report(`EKS node group "${args.name}" has scalingConfig minSize ${minSize}, desiredSize ${desiredSize}, maxSize ${maxSize}; make minSize <= desiredSize <= maxSize.`);
        }
    },
};
