import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type EksCluster } from "../lib/aws";

/** EKS clusters envelope-encrypt Kubernetes Secrets with a KMS key. */
export const eksSecretsEncryption: ResourceValidationPolicy = {
    name: "eks-secrets-encryption",
    description: "EKS clusters encrypt Kubernetes Secrets with KMS (encryptionConfig with resources [\"secrets\"]).",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: (args, report) => {
        if (args.type !== AWS.eksCluster) return;
        const cluster = args.props as EksCluster;
        if (!(cluster.encryptionConfig?.resources ?? []).includes("secrets")) {
            report(`EKS cluster "${args.name}" does not encrypt Secrets with KMS; set encryptionConfig {provider: {keyArn: <KMS key ARN>}, resources: ["secrets"]}.`);
        }
    },
};
