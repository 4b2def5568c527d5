import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EcrRepository } from "../lib/aws";

/** A pushed tag always names the same image, so a deployed tag can be trusted and rolled back to. */
export const ecrImmutableTags: ResourceValidationPolicy = {
    name: "ecr-immutable-tags",
    description: "ECR repositories have immutable image tags.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: (args, report) => {
        if (args.type !== AWS.ecrRepository) return;
        const mutability = (args.props as EcrRepository).imageTagMutability ?? "MUTABLE";
        if (!mutability.startsWith("IMMUTABLE")) {
            report(`ECR repository "${args.name}" has imageTagMutability ${mutability}; set it to IMMUTABLE.`);
        }
    },
};
