import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EcrRepository } from "../lib/aws";

/** ECR scans every pushed image for known vulnerabilities. */
export const ecrScanOnPush: ResourceValidationPolicy = {
    name: "ecr-scan-on-push",
    description: "ECR repositories scan images on push.",
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: (args, report) => {
        if (args.type !== AWS.ecrRepository) return;
        if ((args.props as EcrRepository).imageScanningConfiguration?.scanOnPush !== true) {
            report(`ECR repository "${args.name}" does not scan images on push; set imageScanningConfiguration {scanOnPush: true}.`);
        }
    },
};
