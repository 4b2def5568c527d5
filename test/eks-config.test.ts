/**
 * Stack-config validation of the EKS keys (`kubeforge:cluster.eks`, `aws:region`): each bad value
 * is one line naming the key, the value and what is allowed.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseSettings, type RawConfig } from "../components/config";
import { stackSettings } from "./eks-mocks";

const ADMIN = "arn:aws:iam::111122223333:role/platform-admin";

/** Raw config of an eks cluster with `eks` merged over a valid minimum. */
function eksConfig(eks: Record<string, unknown>, extra: RawConfig = {}): RawConfig {
    return { ...extra, cluster: { flavour: "eks", eks: { adminPrincipalArn: ADMIN, ...eks } } };
}

/** The problems parseSettings reports, one per line. */
function problems(raw: RawConfig, awsRegion: string | undefined): string[] {
    try {
        parseSettings(raw, "kubeforge", "test", { awsRegion });
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
    return [];
}

describe("EKS stack config", () => {
    it("fills in defaults and the region for a minimal eks cluster", () => {
        const s = parseSettings(eksConfig({}), "kubeforge", "test", { awsRegion: "eu-west-1" });
        expect(s.cluster.eks).toMatchObject({
            region: "eu-west-1",
            kubernetesVersion: "1.35",
            supportType: "STANDARD",
            publicAccessCidrs: [],
            logRetentionDays: 90,
            network: { availabilityZones: 3, vpcCidr: "10.0.0.0/16", natGateways: "perZone" },
            // One node per zone, up to three per zone.
            nodes: { instanceTypes: ["m6i.large"], capacityType: "ON_DEMAND", minSize: 3, desiredSize: 3, maxSize: 9, diskSizeGiB: 50 },
        });
    });

    it("scales the default node counts with the zones: configured ones, or the existing VPC's private subnets", () => {
        const nodes = (network: Record<string, unknown>) => parseSettings(eksConfig({ network }), "kubeforge", "test", { awsRegion: "eu-west-1" }).cluster.eks.nodes;
        expect(nodes({ availabilityZones: 2 })).toMatchObject({ minSize: 2, desiredSize: 2, maxSize: 6 });
        expect(nodes({ availabilityZones: 5 })).toMatchObject({ minSize: 5, desiredSize: 5, maxSize: 15 });
        expect(nodes({ vpcId: "vpc-0123456789abcdef0", publicSubnetIds: ["subnet-01234567", "subnet-89abcdef"], privateSubnetIds: ["subnet-11111111", "subnet-22222222"] })).toMatchObject({ minSize: 2, desiredSize: 2, maxSize: 6 });
    });

    it("accepts node counts that are multiples of the zone count, zero included", () => {
        expect(problems(eksConfig({ network: { availabilityZones: 2 }, nodes: { minSize: 0, desiredSize: 4, maxSize: 12 } }), "eu-west-1")).toEqual([]);
        expect(problems(eksConfig({ nodes: { minSize: 0, maxSize: 3 } }), "eu-west-1")).toEqual([]);
    });

    it("takes desiredSize from minSize when it is left out", () => {
        const s = parseSettings(eksConfig({ nodes: { minSize: 6, maxSize: 12 } }), "kubeforge", "test", { awsRegion: "eu-west-1" });
        expect(s.cluster.eks.nodes).toMatchObject({ minSize: 6, desiredSize: 6, maxSize: 12 });
    });

    it("reads both cloud stacks: prod highly available and protected, staging small", () => {
        const prod = stackSettings("prod");
        expect(prod.environment).toBe("production");
        expect(prod.cluster.eks).toMatchObject({ region: "eu-west-1", network: { availabilityZones: 3, natGateways: "perZone" } });
        for (const svc of prod.services) expect(svc.replicas.min, svc.name).toBeGreaterThanOrEqual(2);
        const staging = stackSettings("staging");
        expect(staging.environment).toBe("staging");
        expect(staging.cluster.eks).toMatchObject({ network: { availabilityZones: 2, natGateways: "single" }, nodes: { capacityType: "SPOT" } });
    });

    it.each([
        ["a missing region", eksConfig({}), undefined, `aws:region: (missing) must be set when kubeforge:cluster.flavour is "eks" (e.g. pulumi config set aws:region eu-west-1)`],
        ["a malformed region", eksConfig({}), "Ireland", `aws:region: "Ireland" is not an AWS region (e.g. eu-west-1)`],
        ["a bad public-access CIDR", eksConfig({ publicAccessCidrs: ["10.0.0.0/33"] }), "eu-west-1", `kubeforge:cluster.eks.publicAccessCidrs[0]: "10.0.0.0/33" is not an IPv4 CIDR block (e.g. 10.0.0.0/16)`],
        ["a CIDR with host bits", eksConfig({ publicAccessCidrs: ["198.51.100.7/24"] }), "eu-west-1", `kubeforge:cluster.eks.publicAccessCidrs[0]: "198.51.100.7/24" has host bits set (did you mean 198.51.100.0/24?)`],
        ["a bad VPC CIDR", eksConfig({ network: { vpcCidr: "10.0.0/16" } }), "eu-west-1", `kubeforge:cluster.eks.network.vpcCidr: "10.0.0/16" is not an IPv4 CIDR block (e.g. 10.0.0.0/16)`],
        ["a VPC too small for the subnet layout", eksConfig({ network: { vpcCidr: "10.0.0.0/24" } }), "eu-west-1", `kubeforge:cluster.eks.network.vpcCidr: "10.0.0.0/24" must have a prefix between /16 and /20`],
        ["min above max", eksConfig({ nodes: { minSize: 6, maxSize: 3 } }), "eu-west-1", "kubeforge:cluster.eks.nodes.maxSize: 3 is below minSize 6"],
        ["desired below min", eksConfig({ nodes: { minSize: 6, desiredSize: 3, maxSize: 9 } }), "eu-west-1", "kubeforge:cluster.eks.nodes.desiredSize: 3 is below minSize 6"],
        ["desired above max", eksConfig({ nodes: { minSize: 3, desiredSize: 12, maxSize: 9 } }), "eu-west-1", "kubeforge:cluster.eks.nodes.desiredSize: 12 is above maxSize 9"],
        ["a maxSize the zones cannot share equally", eksConfig({ nodes: { minSize: 3, maxSize: 10 } }), "eu-west-1", "kubeforge:cluster.eks.nodes.maxSize: 10 is not a multiple of the 3 zones (one node group per zone, sized equally; use 9 or 12)"],
        ["a minSize below the zone count (desiredSize left out, so not reported again)", eksConfig({ network: { availabilityZones: 2 }, nodes: { minSize: 1, maxSize: 4 } }), "eu-west-1", "kubeforge:cluster.eks.nodes.minSize: 1 is not a multiple of the 2 zones (one node group per zone, sized equally; use 2)"],
        ["an unknown instance-type format", eksConfig({ nodes: { minSize: 3, maxSize: 6, instanceTypes: ["m6i-large"] } }), "eu-west-1", `kubeforge:cluster.eks.nodes.instanceTypes[0]: "m6i-large" is not an EC2 instance type (e.g. m6i.large)`],
        ["mixed CPU architectures", eksConfig({ nodes: { minSize: 3, maxSize: 6, instanceTypes: ["m6i.large", "m7g.large"] } }), "eu-west-1", `kubeforge:cluster.eks.nodes.instanceTypes: ["m6i.large","m7g.large"] mixes arm64 (Graviton) and x86_64 instance types; one node group needs one architecture`],
        ["a capacity type outside the enum", eksConfig({ nodes: { minSize: 3, maxSize: 6, capacityType: "RESERVED" } }), "eu-west-1", `kubeforge:cluster.eks.nodes.capacityType: "RESERVED" is not allowed (allowed: "ON_DEMAND", "SPOT")`],
        ["one zone", eksConfig({ network: { availabilityZones: 1 } }), "eu-west-1", "kubeforge:cluster.eks.network.availabilityZones: 1 must be at least 2 (EKS needs two availability zones)"],
        // Node counts are only checked against a valid zone count.
        ["seven zones", eksConfig({ network: { availabilityZones: 7 }, nodes: { minSize: 3, maxSize: 9 } }), "eu-west-1", "kubeforge:cluster.eks.network.availabilityZones: 7 must be at most 6"],
        ["a support type outside the enum", eksConfig({ supportType: "extended" }), "eu-west-1", `kubeforge:cluster.eks.supportType: "extended" is not allowed (allowed: "STANDARD", "EXTENDED")`],
        ["a malformed Kubernetes version", eksConfig({ kubernetesVersion: "1.35.2" }), "eu-west-1", `kubeforge:cluster.eks.kubernetesVersion: "1.35.2" is not a Kubernetes minor version (e.g. 1.35)`],
        ["a Kubernetes version no autoscaler is paired with", eksConfig({ kubernetesVersion: "1.29" }), "eu-west-1", `kubeforge:cluster.eks.kubernetesVersion: "1.29" has no Cluster Autoscaler release paired with it (supported: 1.35, 1.36)`],
        ["a VPC id without subnets", eksConfig({ network: { vpcId: "vpc-0123456789abcdef0", publicSubnetIds: ["subnet-01234567", "subnet-89abcdef"] } }), "eu-west-1", "kubeforge:cluster.eks.network.privateSubnetIds: (missing) must be set together with vpcId and publicSubnetIds (give vpcId, publicSubnetIds and privateSubnetIds, or none to create a VPC)"],
        ["a missing admin principal", { cluster: { flavour: "eks" } }, "eu-west-1", `kubeforge:cluster.eks.adminPrincipalArn: (missing) must be set when cluster.flavour is "eks" (the IAM role or user that administers the cluster)`],
        ["an admin that is not an IAM ARN", eksConfig({ adminPrincipalArn: "admin" }), "eu-west-1", `kubeforge:cluster.eks.adminPrincipalArn: "admin" is not an IAM role or user ARN (e.g. arn:aws:iam::111122223333:role/platform-admin)`],
        ["a preview principal that is not an IAM ARN", eksConfig({ previewPrincipalArn: "arn:aws:sts::111122223333:assumed-role/kubeforge-preview/ci" }), "eu-west-1", `kubeforge:cluster.eks.previewPrincipalArn: "arn:aws:sts::111122223333:assumed-role/kubeforge-preview/ci" is not an IAM role or user ARN (e.g. arn:aws:iam::111122223333:role/kubeforge-preview)`],
        ["the admin as preview principal", eksConfig({ previewPrincipalArn: ADMIN }), "eu-west-1", `kubeforge:cluster.eks.previewPrincipalArn: "${ADMIN}" is the admin principal; previews need a read-only principal of their own (and EKS allows one access entry per principal)`],
        ["a log retention CloudWatch does not offer", eksConfig({ logRetentionDays: 10 }), "eu-west-1", "kubeforge:cluster.eks.logRetentionDays: 10 is not a CloudWatch retention period (allowed: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)"],
        ["a load-balancer certificate that is not an ACM ARN", eksConfig({ loadBalancerCertificateArn: "arn:aws:iam::111122223333:server-certificate/web" }), "eu-west-1", `kubeforge:cluster.eks.loadBalancerCertificateArn: "arn:aws:iam::111122223333:server-certificate/web" is not an ACM certificate ARN (e.g. arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab)`],
        ["a mistyped key", eksConfig({ nodeGroup: {} }), "eu-west-1", "kubeforge:cluster.eks.nodeGroup: is not a known key (allowed: kubernetesVersion, supportType, adminPrincipalArn, previewPrincipalArn, loadBalancerCertificateArn, publicAccessCidrs, logRetentionDays, keepImages, addonVersions, network, nodes)"],
        ["an add-on version that is not one", eksConfig({ addonVersions: { coredns: "latest" } }), "eu-west-1", `kubeforge:cluster.eks.addonVersions.coredns: "latest" is not an EKS add-on version (e.g. v1.19.2-eksbuild.1)`],
        [
            "an API endpoint open to the internet in production",
            eksConfig({ publicAccessCidrs: ["0.0.0.0/0"] }, { environment: "production" }),
            "eu-west-1",
            `kubeforge:cluster.eks.publicAccessCidrs[0]: "0.0.0.0/0" opens the API endpoint to the whole internet, which production does not allow (list operator CIDRs, or [] for a private endpoint)`,
        ],
    ])("rejects %s with one line", (_what, raw, region, line) => {
        expect(problems(raw, region)).toEqual([line]);
    });

    it("rejects each node count an existing VPC's zones cannot share equally, one line per key", () => {
        const network = { vpcId: "vpc-0123456789abcdef0", publicSubnetIds: ["subnet-01234567", "subnet-89abcdef"], privateSubnetIds: ["subnet-11111111", "subnet-22222222"] };
        expect(problems(eksConfig({ network, nodes: { minSize: 3, desiredSize: 3, maxSize: 7 } }), "eu-west-1")).toEqual([
            "kubeforge:cluster.eks.nodes.minSize: 3 is not a multiple of the 2 zones (one node group per zone, sized equally; use 2 or 4)",
            "kubeforge:cluster.eks.nodes.desiredSize: 3 is not a multiple of the 2 zones (one node group per zone, sized equally; use 2 or 4)",
            "kubeforge:cluster.eks.nodes.maxSize: 7 is not a multiple of the 2 zones (one node group per zone, sized equally; use 6 or 8)",
        ]);
    });

    it("reports a node count that is both out of order and not a multiple of the zones on both counts", () => {
        expect(problems(eksConfig({ nodes: { minSize: 5, maxSize: 3 } }), "eu-west-1")).toEqual([
            "kubeforge:cluster.eks.nodes.maxSize: 3 is below minSize 5",
            "kubeforge:cluster.eks.nodes.minSize: 5 is not a multiple of the 3 zones (one node group per zone, sized equally; use 3 or 6)",
        ]);
    });

    it("allows an open endpoint outside production and ignores the eks block for other flavours", () => {
        expect(problems(eksConfig({ publicAccessCidrs: ["0.0.0.0/0"] }, { environment: "staging" }), "eu-west-1")).toEqual([]);
        expect(problems({ cluster: { flavour: "existing" } }, undefined)).toEqual([]);
    });
});
