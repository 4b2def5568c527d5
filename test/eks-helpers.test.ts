/**
 * Pure helpers of the EKS flavour: CIDR arithmetic and subnet layout, instance architectures, IAM
 * policy documents, the ECR lifecycle policy and the kubeconfig.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it, vi } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { eksKubeconfig, guardPlaceholders, resourceTags } from "../components/cluster/eks/eks";
import {
    clusterAutoscalerPolicy,
    eksAccessPolicyArn,
    flowLogsWritePolicy,
    LOAD_BALANCER_CONTROLLER_POLICY_FILE,
    loadBalancerControllerPolicy,
    managedPolicyArn,
    podIdentityTrustPolicy,
    secretsKeyUsePolicy,
    serviceTrustPolicy,
} from "../components/cluster/eks/iam";
import { clusterAutoscalerImage, LOAD_BALANCER_CONTROLLER_CHART } from "../components/cluster/eks/controllers";
import { keepLastImagesPolicy, registryServer } from "../components/cluster/eks/registry";
import { al2023AmiType, dockerPlatform, instanceArchitecture, INSTANCE_TYPE, placeholderProblems, subnetLayout, zonalScaling, zoneCount, zoneMultipleProblem } from "../components/cluster/eks/values";
import { cidrProblem, formatCidr, parseCidr } from "../components/formats";

describe("CIDR arithmetic", () => {
    it("parses and formats IPv4 blocks", () => {
        expect(parseCidr("10.30.0.0/16")).toEqual({ address: 10 * 2 ** 24 + 30 * 2 ** 16, prefix: 16 });
        expect(formatCidr(parseCidr("192.168.255.0/24") ?? { address: 0, prefix: 0 })).toBe("192.168.255.0/24");
        for (const bad of ["10.0.0.0", "10.0.0.256/16", "10.0.0.0/33", "a.b.c.d/8", "10.0.0.0/16 "]) expect(parseCidr(bad), bad).toBeUndefined();
    });

    it("names host bits and the block that was probably meant", () => {
        expect(cidrProblem("10.0.0.0/16")).toBeUndefined();
        expect(cidrProblem("0.0.0.0/0")).toBeUndefined();
        expect(cidrProblem("10.0.1.0/16")).toBe("has host bits set (did you mean 10.0.0.0/16?)");
    });

    it("gives each zone a large private subnet and small public and internal load-balancer ones, none overlapping", () => {
        const layout = subnetLayout("10.30.0.0/16", 3);
        expect(layout.private).toEqual(["10.30.0.0/19", "10.30.32.0/19", "10.30.64.0/19"]);
        expect(layout.public).toEqual(["10.30.224.0/23", "10.30.226.0/23", "10.30.228.0/23"]);
        expect(layout.internalLoadBalancer).toEqual(["10.30.240.0/23", "10.30.242.0/23", "10.30.244.0/23"]);
        const six = subnetLayout("172.16.0.0/20", 6);
        // The smallest VPC's load-balancer subnets (/27) still keep the 8 free addresses the controller requires.
        expect(six.internalLoadBalancer.every((c) => parseCidr(c)?.prefix === 27)).toBe(true);
        const blocks = [...six.private, ...six.public, ...six.internalLoadBalancer].map((c) => parseCidr(c) ?? { address: -1, prefix: 32 });
        const ranges = blocks.map((b) => [b.address, b.address + 2 ** (32 - b.prefix)] as const).sort((a, b) => a[0] - b[0]);
        ranges.slice(1).forEach((r, i) => expect(r[0]).toBeGreaterThanOrEqual(ranges[i]?.[1] ?? Infinity));
        expect(() => subnetLayout("10.0.0.0/24", 2)).toThrow("must have a prefix between /16 and /20");
        expect(() => subnetLayout("10.0.0.0/16", 7)).toThrow("zone count 7 must be between 1 and 6");
    });
});

describe("placeholder config", () => {
    const REAL_ADMIN = "arn:aws:iam::210987654321:role/platform-admin";
    const keys = (problems: string[]) => problems.map((p) => p.slice(0, p.indexOf(": ")));

    it("flags an admin principal in any of AWS's documentation accounts, in any partition, naming key, value and fix", () => {
        expect(placeholderProblems({ adminPrincipalArn: "arn:aws:iam::111122223333:role/kubeforge-platform-admin", publicAccessCidrs: [] }, "kubeforge")).toEqual([
            `kubeforge:cluster.eks.adminPrincipalArn: "arn:aws:iam::111122223333:role/kubeforge-platform-admin" is a placeholder in AWS's documentation account 111122223333; set the ARN of the IAM role or user your operators and CI run pulumi as`,
        ]);
        for (const arn of ["arn:aws:iam::123456789012:user/alice", "arn:aws-us-gov:iam::444455556666:role/admin"]) {
            expect(keys(placeholderProblems({ adminPrincipalArn: arn, publicAccessCidrs: [] }, "kubeforge")), arn).toEqual(["kubeforge:cluster.eks.adminPrincipalArn"]);
        }
        expect(placeholderProblems({ adminPrincipalArn: REAL_ADMIN, publicAccessCidrs: [] }, "kubeforge")).toEqual([]);
        expect(placeholderProblems({ publicAccessCidrs: [] }, "kubeforge")).toEqual([]);
    });

    it("flags a preview principal in a documentation account the same way, with its own fix", () => {
        expect(placeholderProblems({ adminPrincipalArn: REAL_ADMIN, previewPrincipalArn: "arn:aws:iam::123456789012:role/kubeforge-preview", publicAccessCidrs: [] }, "kubeforge")).toEqual([
            `kubeforge:cluster.eks.previewPrincipalArn: "arn:aws:iam::123456789012:role/kubeforge-preview" is a placeholder in AWS's documentation account 123456789012; set the ARN of the read-only IAM role CI previews and drift checks assume (docs/environments.md)`,
        ]);
        expect(placeholderProblems({ adminPrincipalArn: REAL_ADMIN, previewPrincipalArn: "arn:aws:iam::210987654321:role/kubeforge-preview", publicAccessCidrs: [] }, "kubeforge")).toEqual([]);
    });

    it("flags public-access CIDRs inside the RFC 5737 documentation ranges, not real ranges around or beside them", () => {
        expect(placeholderProblems({ adminPrincipalArn: REAL_ADMIN, publicAccessCidrs: ["198.18.0.0/24", "203.0.113.0/24"] }, "kubeforge")).toEqual([
            `kubeforge:cluster.eks.publicAccessCidrs[1]: "203.0.113.0/24" is a placeholder in the documentation range 203.0.113.0/24 (RFC 5737); set your operators' and CI runners' egress CIDRs, or [] for a private-only endpoint`,
        ]);
        expect(keys(placeholderProblems({ publicAccessCidrs: ["192.0.2.0/24", "198.51.100.16/28", "203.0.113.7/32"] }, "kubeforge"))).toEqual([0, 1, 2].map((i) => `kubeforge:cluster.eks.publicAccessCidrs[${i}]`));
        // A larger real block that contains a documentation range, the neighbours, and the whole internet are real values.
        expect(placeholderProblems({ publicAccessCidrs: ["192.0.0.0/16", "192.0.3.0/24", "203.0.112.0/24", "0.0.0.0/0"] }, "kubeforge")).toEqual([]);
    });

    it("throws every line as one RunError during a real update, and only warns each line under mocks or in a preview", () => {
        const lines = ["kubeforge:cluster.eks.adminPrincipalArn: a", "kubeforge:cluster.eks.publicAccessCidrs[0]: b"];
        const warn = vi.fn();
        let thrown: unknown;
        try {
            guardPlaceholders(lines, true, warn);
        } catch (e) {
            thrown = e;
        }
        expect(thrown).toBeInstanceOf(pulumi.RunError);
        expect((thrown as Error).message).toBe(lines.join("\n"));
        expect(warn).not.toHaveBeenCalled();

        guardPlaceholders(lines, false, warn);
        expect(warn.mock.calls).toEqual(lines.map((l) => [l]));
        expect(() => guardPlaceholders([], true, warn)).not.toThrow();
    });
});

describe("node groups per zone", () => {
    it("counts the configured zones, or an existing VPC's private subnets", () => {
        expect(zoneCount({ availabilityZones: 3 })).toBe(3);
        expect(zoneCount({ availabilityZones: 3, privateSubnetIds: ["subnet-1", "subnet-2"] })).toBe(2);
    });

    it("accepts multiples of the zone count and names the nearest ones otherwise", () => {
        for (const ok of [0, 3, 9, 999]) expect(zoneMultipleProblem(ok, 3), String(ok)).toBeUndefined();
        expect(zoneMultipleProblem(10, 3)).toBe("is not a multiple of the 3 zones (one node group per zone, sized equally; use 9 or 12)");
        expect(zoneMultipleProblem(1, 2)).toBe("is not a multiple of the 2 zones (one node group per zone, sized equally; use 2)");
        // Never suggests more than the 1000 nodes allowed.
        expect(zoneMultipleProblem(1000, 3)).toBe("is not a multiple of the 3 zones (one node group per zone, sized equally; use 999)");
    });

    it("gives each zone's group an equal share of the cluster totals, or refuses", () => {
        expect(zonalScaling({ minSize: 3, desiredSize: 6, maxSize: 9 }, 3)).toEqual({ minSize: 1, desiredSize: 2, maxSize: 3 });
        expect(zonalScaling({ minSize: 0, desiredSize: 2, maxSize: 4 }, 2)).toEqual({ minSize: 0, desiredSize: 1, maxSize: 2 });
        expect(() => zonalScaling({ minSize: 3, desiredSize: 3, maxSize: 10 }, 3)).toThrow("nodes.maxSize: 10 is not a multiple of the 3 zones");
    });
});

describe("instance types", () => {
    it("accepts EC2 instance-type names and rejects others", () => {
        for (const t of ["m6i.large", "c7gn.16xlarge", "m7i-flex.xlarge", "t4g.nano", "u-6tb1.metal", "c7i.metal-24xl"]) expect(INSTANCE_TYPE.test(t), t).toBe(true);
        for (const t of ["m6i", "large", "M6i.large", "m6i.huge", "m6i-large"]) expect(INSTANCE_TYPE.test(t), t).toBe(false);
    });

    it("tells Graviton from x86 and picks the AL2023 AMI type", () => {
        expect(["m7g.large", "c6gn.xlarge", "t4g.small", "g5g.xlarge"].map(instanceArchitecture)).toEqual(["arm64", "arm64", "arm64", "arm64"]);
        expect(["m6i.large", "g4dn.xlarge", "t3a.large", "m7i-flex.large"].map(instanceArchitecture)).toEqual(["x86_64", "x86_64", "x86_64", "x86_64"]);
        expect(al2023AmiType(["t3.large", "t3a.large"])).toBe("AL2023_x86_64_STANDARD");
        expect(al2023AmiType(["m7g.large"])).toBe("AL2023_ARM_64_STANDARD");
        expect(() => al2023AmiType(["m7g.large", "m6i.large"])).toThrow("mix CPU architectures");
        expect(dockerPlatform("AL2023_ARM_64_STANDARD")).toBe("linux/arm64");
        expect(dockerPlatform("AL2023_x86_64_STANDARD")).toBe("linux/amd64");
    });
});

describe("IAM documents", () => {
    it("builds ARNs in the caller's partition", () => {
        expect(managedPolicyArn("aws-cn", "AmazonEKSClusterPolicy")).toBe("arn:aws-cn:iam::aws:policy/AmazonEKSClusterPolicy");
        expect(eksAccessPolicyArn("aws-us-gov", "AmazonEKSClusterAdminPolicy")).toBe("arn:aws-us-gov:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy");
    });

    it("lets services assume and tag sessions, EC2 only assume", () => {
        expect(serviceTrustPolicy("pods.eks.amazonaws.com").Statement[0]).toEqual({ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] });
        expect(serviceTrustPolicy("ec2.amazonaws.com.cn", false).Statement[0]).toEqual({ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com.cn" }, Action: "sts:AssumeRole" });
    });

    it("trusts Pod Identity for one ServiceAccount of one cluster only, by the session tags EKS sets", () => {
        const arn = "arn:aws:eks:eu-west-1:1:cluster/c";
        expect(podIdentityTrustPolicy(arn, "kube-system", "sa").Statement).toEqual([
            {
                Effect: "Allow",
                Principal: { Service: "pods.eks.amazonaws.com" },
                Action: ["sts:AssumeRole", "sts:TagSession"],
                Condition: { StringEquals: { "aws:RequestTag/eks-cluster-arn": arn, "aws:RequestTag/kubernetes-namespace": "kube-system", "aws:RequestTag/kubernetes-service-account": "sa" } },
            },
        ]);
    });

    it("lets the control plane use only its secrets key, and flow logs write only to their group", () => {
        expect(secretsKeyUsePolicy("arn:aws:kms:eu-west-1:1:key/k").Statement).toEqual([
            { Sid: "EnvelopeEncryption", Effect: "Allow", Action: ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"], Resource: "arn:aws:kms:eu-west-1:1:key/k" },
        ]);
        expect(flowLogsWritePolicy("arn:aws:logs:eu-west-1:1:log-group:g").Statement[0]?.Resource).toEqual(["arn:aws:logs:eu-west-1:1:log-group:g", "arn:aws:logs:eu-west-1:1:log-group:g:*"]);
    });

    it("scopes the autoscaler's mutating actions to the named cluster's tagged groups", () => {
        const [discover, scale] = clusterAutoscalerPolicy("kubeforge-prod").Statement;
        expect(discover?.Condition).toBeUndefined();
        expect(discover?.Action).not.toContain("autoscaling:SetDesiredCapacity");
        expect(scale?.Action).toEqual(["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]);
        // Both tag keys must exist, whatever values EKS gives them.
        expect(scale?.Condition).toEqual({ Null: { "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "false", "aws:ResourceTag/k8s.io/cluster-autoscaler/kubeforge-prod": "false" } });
    });

    it("keeps the customer-managed policies within IAM's 6,144-character limit", () => {
        for (const doc of [loadBalancerControllerPolicy(), clusterAutoscalerPolicy("a-cluster-name-of-forty-characters-long")]) {
            expect(JSON.stringify(doc).length).toBeLessThanOrEqual(6144);
        }
    });

    it("vendors the load-balancer controller's policy byte for byte from its release (policies/README.md), each statement once", () => {
        // Size and sha256 of docs/install/iam_policy.json at kubernetes-sigs/aws-load-balancer-controller
        // tag v3.5.0 (commit 11eb202c97e4), the controller chart 3.5.0 runs.
        expect(LOAD_BALANCER_CONTROLLER_CHART.version).toBe("3.5.0");
        const bytes = fs.readFileSync(LOAD_BALANCER_CONTROLLER_POLICY_FILE);
        expect(bytes.length).toBe(8955);
        expect(createHash("sha256").update(bytes).digest("hex")).toBe("16f232c9d9f79366fe949c4550ad517a202380058a9e48d45a4e215044a20a6a");
        const statements = loadBalancerControllerPolicy().Statement.map((s) => JSON.stringify(s));
        expect(new Set(statements).size).toBe(statements.length);
    });

    it("lets the load-balancer controller modify IP pools only on load balancers tagged as a cluster's, as released v2.13+ does", () => {
        const withIpPools = loadBalancerControllerPolicy().Statement.filter((s) => ([] as string[]).concat(s.Action).includes("elasticloadbalancing:ModifyIpPools"));
        expect(withIpPools).toHaveLength(1);
        expect(withIpPools[0]?.Condition).toEqual({ Null: { "aws:ResourceTag/elbv2.k8s.aws/cluster": "false" } });
    });

    it("loads the load-balancer controller's policy from the committed JSON file", () => {
        const doc = loadBalancerControllerPolicy();
        expect(doc).toEqual(JSON.parse(fs.readFileSync(LOAD_BALANCER_CONTROLLER_POLICY_FILE, "utf8")));
        const actions = doc.Statement.flatMap((s) => s.Action);
        for (const a of ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:RegisterTargets", "ec2:AuthorizeSecurityGroupIngress", "elasticloadbalancing:DescribeListenerAttributes"]) expect(actions).toContain(a);
        const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kubeforge-")), "policy.json");
        fs.writeFileSync(bad, JSON.stringify({ Version: "2008-10-17", Statement: [] }));
        try {
            expect(() => loadBalancerControllerPolicy(bad)).toThrow("is not an IAM policy document");
        } finally {
            fs.unlinkSync(bad);
        }
    });
});

describe("charts", () => {
    it("runs the Cluster Autoscaler release of the cluster's Kubernetes minor, pinned by digest, and refuses unpaired versions", () => {
        for (const minor of ["1.35", "1.36"]) {
            const image = clusterAutoscalerImage(minor);
            expect(image.repository).toBe("registry.k8s.io/autoscaling/cluster-autoscaler");
            expect(image.tag).toMatch(new RegExp(`^v${minor.replace(".", "\\.")}\\.[0-9]+@sha256:[0-9a-f]{64}$`));
        }
        expect(() => clusterAutoscalerImage("1.34")).toThrow("no Cluster Autoscaler release is paired with Kubernetes 1.34");
    });
});

describe("ECR, tags and kubeconfig", () => {
    it("expires all but the newest images and logs in without the scheme", () => {
        expect(keepLastImagesPolicy(7).rules).toEqual([{ rulePriority: 1, description: "Keep the last 7 images", selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 7 }, action: { type: "expire" } }]);
        expect(registryServer("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com")).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
    });

    it("tags with project, stack and component", () => {
        expect(resourceTags("kubeforge", "prod")).toEqual({ project: "kubeforge", stack: "prod", component: "cluster" });
    });

    it("writes a kubeconfig whose one context uses aws eks get-token", () => {
        const kc = JSON.parse(eksKubeconfig("c1", "https://x.eks.amazonaws.com", "Q0E=", "us-east-2")) as Record<string, unknown>;
        expect(kc["current-context"]).toBe("c1");
        expect(kc.clusters).toEqual([{ name: "c1", cluster: { server: "https://x.eks.amazonaws.com", "certificate-authority-data": "Q0E=" } }]);
        expect(JSON.stringify(kc.users)).toContain('"args":["eks","get-token","--cluster-name","c1","--region","us-east-2","--output","json"]');
    });
});
