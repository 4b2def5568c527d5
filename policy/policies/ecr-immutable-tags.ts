import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EcrRepository } from "../lib/aws";
import { validateType } from "../lib/policy";

/** A pushed tag always names the same image, so a deployed tag can be trusted and rolled back to. */
export const ecrImmutableTags: ResourceValidationPolicy = {
    name: "ecr-immutable-tags",
    description: "ECR repositories have immutable image tags.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateType<EcrRepository>(AWS.ecrRepository, (props, args, report) => {
        const mutability = props.imageTagMutability ?? "MUTABLE";
        if (!mutability.startsWith("IMMUTABLE")) {
            report(`ECR repository "${args.name}" has imageTagMutability ${mutability}; set it to IMMUTABLE.`);
        }
    }),
};
