import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EcrRepository } from "../lib/aws";
import { validateType } from "../lib/policy";

/** ECR scans every pushed image for known vulnerabilities. */
export const ecrScanOnPush: ResourceValidationPolicy = {
    name: "ecr-scan-on-push",
    description: "ECR repositories scan images on push.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: validateType<EcrRepository>(AWS.ecrRepository, (props, args, report) => {
        if (props.imageScanningConfiguration?.scanOnPush !== true) {
            report(`ECR repository "${args.name}" does not scan images on push; set imageScanningConfiguration {scanOnPush: true}.`);
        }
    }),
};
