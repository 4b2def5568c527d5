/**
 * The deploy role is made by hand from docs/environments.md ("Who CI runs as", the deploy role's
 * "AWS permissions"). A role built from a list that leaves out a service whose resources the
 * program declares fails the first `pulumi up` at that resource, so the list must name the AWS
 * service of every resource type the cloud stacks declare, and the IAM and KMS permissions AWS
 * checks on the caller's behalf.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../scripts/stack-files";
import { type Program, runStack } from "./harness";

/** How the docs name the AWS service behind each @pulumi/aws module (`aws:<module>/...`). */
const SERVICE_NAMES: Readonly<Record<string, string>> = {
    cloudwatch: "CloudWatch Logs",
    ec2: "EC2",
    ecr: "ECR",
    eks: "EKS",
    elasticache: "ElastiCache",
    iam: "IAM",
    kms: "KMS",
    // The VPC module's resources (security group rules) are EC2 API calls.
    vpc: "EC2",
};

/** The deploy role's row of the table in docs/environments.md. */
function deployRoleRow(): string {
    const doc = readFileSync(join(PROJECT_ROOT, "docs", "environments.md"), "utf8");
    const row = doc.split("\n").find((line) => line.startsWith("| a **deploy role**"));
    if (row === undefined) throw new Error("docs/environments.md has no deploy role row");
    return row;
}

describe.each(["staging", "prod"])("the deploy role's documented permissions (%s)", (stack) => {
    let program: Program;
    beforeAll(async () => {
        program = await runStack(stack);
    });

    it("name the AWS service of every resource type the stack declares", () => {
        const modules = [...new Set(program.resources.map((r) => /^aws:([a-z0-9]+)\//.exec(r.type)?.[1]).filter((m): m is string => m !== undefined))];
        expect(modules).toContain("elasticache");
        for (const module of modules) {
            const service = SERVICE_NAMES[module];
            expect(service, `aws:${module} resources: add the service to SERVICE_NAMES and to the deploy role's row`).toBeDefined();
            expect(deployRoleRow(), `aws:${module}`).toContain(service);
        }
    });

    // The caller of CreateCluster, CreateNodegroup, CreateFlowLogs and CreatePodIdentityAssociation
    // needs iam:PassRole on the role it names. EKS creates AWSServiceRoleForAmazonEKS and its node
    // groups' service-linked roles with the caller's iam:CreateServiceLinkedRole
    // (awsdocs/amazon-eks-user-guide latest/ug/security/iam-reference/security-iam-awsmanpol.adoc),
    // ElastiCache AWSServiceRoleForElastiCache likewise
    // (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/using-service-linked-roles.html,
    // "Permissions to create a service-linked role"). EKS envelope encryption needs the caller's
    // kms:CreateGrant and kms:DescribeKey (security/security-k8s.adoc).
    it("include passing the roles the stack hands to AWS services, the service-linked roles and the KMS grants", () => {
        const passed = program.resources.filter((r) => ["roleArn", "nodeRoleArn", "iamRoleArn"].some((k) => typeof r.inputs[k] === "string" && String(r.inputs[k]).includes(":role/")));
        expect(passed.map((r) => r.type)).toEqual(expect.arrayContaining(["aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:ec2/flowLog:FlowLog", "aws:eks/podIdentityAssociation:PodIdentityAssociation"]));
        const row = deployRoleRow();
        expect(row).toContain("`iam:PassRole`");
        expect(program.ofType("aws:elasticache/replicationGroup:ReplicationGroup")).toHaveLength(1);
        expect(row).toContain("`iam:CreateServiceLinkedRole`");
        expect(program.ofType("aws:kms/key:Key").length).toBeGreaterThanOrEqual(2);
        expect(row).toContain("`kms:CreateGrant`");
    });
});
