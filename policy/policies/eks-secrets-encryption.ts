import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EksCluster } from "../lib/aws";
import { validateType } from "../lib/policy";

/** EKS clusters envelope-encrypt Kubernetes Secrets with a KMS key. */
export const eksSecretsEncryption: ResourceValidationPolicy = {
    name: "eks-secrets-encryption",
    description: "EKS clusters encrypt Kubernetes Secrets with KMS (encryptionConfig with resources [\"secrets\"]).",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: validateType<EksCluster>(AWS.eksCluster, (props, args, report) => {
        if (!(props.encryptionConfig?.resources ?? []).includes("secrets")) {
            report(`EKS cluster "${args.name}" does not encrypt Secrets with KMS; set encryptionConfig {provider: {keyArn: <KMS key ARN>}, resources: ["secrets"]}.`);
        }
    }),
};
