import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EksNodeGroup } from "../lib/aws";
import { validateType } from "../lib/policy";

/** Node group sizes are consistent: minSize <= desiredSize <= maxSize. */
export const eksNodeGroupScaling: ResourceValidationPolicy = {
    name: "eks-nodegroup-scaling",
    description: "EKS node groups have minSize <= desiredSize <= maxSize.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateType<EksNodeGroup>(AWS.eksNodeGroup, (props, args, report) => {
        const { minSize, desiredSize, maxSize } = props.scalingConfig ?? {};
        if (minSize === undefined || desiredSize === undefined || maxSize === undefined) return;
        if (!(minSize <= desiredSize && desiredSize <= maxSize)) {
            report(`EKS node group "${args.name}" has scalingConfig minSize ${minSize}, desiredSize ${desiredSize}, maxSize ${maxSize}; make minSize <= desiredSize <= maxSize.`);
        }
    }),
};
