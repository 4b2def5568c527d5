/**
 * IAM policy documents of the EKS flavour, as pure functions tested without mocks.
 */
import * as fs from "fs";
import * as path from "path";

/** One IAM policy statement (the subset this program writes). */
export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Principal?: { Service: string | string[] } | { AWS: string | string[] };
    Action: string | string[];
    Resource?: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}

/** An IAM policy document. */
export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: PolicyStatement[];
}

/**
 * Trust policy letting an AWS service principal assume a role; with `tagSession` (default) also
 * `sts:TagSession`, which EKS needs for the cluster role and EKS Pod Identity requires.
 */
export function serviceTrustPolicy(service: string, tagSession = true): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: tagSession ? ["sts:AssumeRole", "sts:TagSession"] : "sts:AssumeRole" }],
    };
}

/** ARN of an AWS managed IAM policy in a partition (`aws`, `aws-cn`, `aws-us-gov`). */
export function managedPolicyArn(partition: string, policyName: string): string {
    return `arn:${partition}:iam::aws:policy/${policyName}`;
}

/** ARN of an EKS access policy (for access entries) in a partition. */
export function eksAccessPolicyArn(partition: string, policyName: string): string {
    return `arn:${partition}:eks::aws:cluster-access-policy/${policyName}`;
}

/**
 * What the control-plane role needs on the secrets key: encrypt and decrypt data keys and list
 * grants. The key's policy delegates to IAM (the default policy), so the role needs them itself.
 */
export function secretsKeyUsePolicy(keyArn: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{ Sid: "EnvelopeEncryption", Effect: "Allow", Action: ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"], Resource: keyArn }],
    };
}

/** What VPC Flow Logs need to write to a CloudWatch log group. */
export function flowLogsWritePolicy(logGroupArn: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "WriteFlowLogs",
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
                Resource: [logGroupArn, `${logGroupArn}:*`],
            },
        ],
    };
}

/** Managed policies of the control-plane role. */
export const CLUSTER_ROLE_POLICIES = ["AmazonEKSClusterPolicy"] as const;

/** Managed policies of the node role: join the cluster, pull from ECR, run the VPC CNI. */
export const NODE_ROLE_POLICIES = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"] as const;

/**
 * Permissions of the Cluster Autoscaler, from its AWS README ("Full Cluster Autoscaler Features
 * Policy", kubernetes/autoscaler cluster-autoscaler-1.35.2 cluster-autoscaler/cloudprovider/aws/README.md):
 * read-only discovery anywhere; the two mutating actions only on Auto Scaling groups that carry
 * both auto-discovery tag keys of this cluster (the README's advice to restrict the second block
 * with tag conditions). The condition asks only that the keys exist (`Null: false`), whatever
 * their values: auto-discovery itself matches keys only ("a value is not given for the tags and in
 * this case any value will be ignored", the same README), and the values EKS writes on a managed
 * node group's Auto Scaling group are not documented anywhere readable here.
 */
export function clusterAutoscalerPolicy(clusterName: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "Discover",
                Effect: "Allow",
                Action: [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                Resource: "*",
            },
            {
                Sid: "ScaleOwnNodeGroups",
                Effect: "Allow",
                Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                Resource: "*",
                Condition: {
                    Null: {
                        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "false",
                        [`aws:ResourceTag/k8s.io/cluster-autoscaler/${clusterName}`]: "false",
                    },
                },
            },
        ],
    };
}

/**
 * Trust policy of a role for one ServiceAccount through EKS Pod Identity: `pods.eks.amazonaws.com`
 * may assume it and tag the session, and only for that ServiceAccount of that cluster, by the
 * session tags Pod Identity sets: the EKS user guide's pod-id-role page shows this trust policy
 * with `aws:RequestTag/kubernetes-namespace` and `aws:RequestTag/kubernetes-service-account`
 * conditions (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html), and lists the
 * session tags, `eks-cluster-arn` among them (awsdocs/amazon-eks-user-guide
 * latest/ug/manage-access/aws-access/service-accounts.adoc, "List of session tags added by EKS Pod
 * Identity"). Another cluster of the account, or another ServiceAccount, cannot use the role even
 * if associated with it.
 */
export function podIdentityTrustPolicy(clusterArn: string, namespace: string, serviceAccount: string): PolicyDocument {
    const condition = {
        StringEquals: {
            "aws:RequestTag/eks-cluster-arn": clusterArn,
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": serviceAccount,
        },
    };
    const trust = serviceTrustPolicy("pods.eks.amazonaws.com");
    return { ...trust, Statement: trust.Statement.map((s) => ({ ...s, Condition: condition })) };
}

/** Where the AWS Load Balancer Controller's official IAM policy is kept (see policies/README.md). */
export const LOAD_BALANCER_CONTROLLER_POLICY_FILE = path.join(__dirname, "policies", "aws-load-balancer-controller.json");

/** The AWS Load Balancer Controller's official IAM policy, read from {@link LOAD_BALANCER_CONTROLLER_POLICY_FILE}. */
export function loadBalancerControllerPolicy(file = LOAD_BALANCER_CONTROLLER_POLICY_FILE): PolicyDocument {
    const doc = JSON.parse(fs.readFileSync(file, "utf8")) as PolicyDocument;
    if (doc.Version !== "2012-10-17" || !Array.isArray(doc.Statement) || doc.Statement.length === 0) {
        throw new Error(`${file} is not an IAM policy document`);
    }
    return doc;
}
