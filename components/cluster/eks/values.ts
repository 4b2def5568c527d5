/**
 * Pure value helpers for the EKS flavour: subnet layout (over the IPv4 CIDR helpers of
 * formats.ts) and the EC2 instance-type grammar. Shared by the eks block's schema (./config.ts)
 * and the EKS components, tested directly.
 */
import { canonicalCidr, cidrProblem, formatCidr, parseCidr, type Ipv4Cidr } from "../../formats";

/** AWS accounts that appear only in AWS's documentation (example ARNs), never a real deployment's. */
export const DOCUMENTATION_ACCOUNTS = ["111122223333", "123456789012", "444455556666"] as const;

/** IPv4 blocks reserved for documentation (RFC 5737), never a real operator's egress address. */
export const DOCUMENTATION_CIDRS = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"] as const;

/** The EKS settings that stack files ship with example values (see {@link placeholderProblems}). */
export interface PlaceholderCandidates {
    adminPrincipalArn?: string;
    previewPrincipalArn?: string;
    publicAccessCidrs: readonly string[];
}

/** What to set instead of an example principal, per key. */
const PRINCIPAL_HINTS = {
    adminPrincipalArn: "the ARN of the IAM role or user your operators and CI run pulumi as",
    previewPrincipalArn: "the ARN of the read-only IAM role CI previews and drift checks assume (docs/environments.md)",
} as const;

/**
 * Example values left in the stack config, one line each naming the key, the value and what to
 * set: an admin or preview principal in one of {@link DOCUMENTATION_ACCOUNTS}, a public-access
 * CIDR inside one of {@link DOCUMENTATION_CIDRS}. They pass validation (so synth and previews of
 * the committed stack files work) but cannot work in AWS. Empty when there are none.
 */
export function placeholderProblems(eks: PlaceholderCandidates, configNamespace: string): string[] {
    const problems: string[] = [];
    for (const [key, hint] of Object.entries(PRINCIPAL_HINTS) as [keyof typeof PRINCIPAL_HINTS, string][]) {
        const arn = eks[key];
        const account = arn === undefined ? undefined : /^arn:[^:]+:iam::([0-9]{12}):/.exec(arn)?.[1];
        if (account !== undefined && (DOCUMENTATION_ACCOUNTS as readonly string[]).includes(account)) {
            problems.push(`${configNamespace}:cluster.eks.${key}: ${JSON.stringify(arn)} is a placeholder in AWS's documentation account ${account}; set ${hint}`);
        }
    }
    eks.publicAccessCidrs.forEach((text, i) => {
        const c = parseCidr(text);
        const range = DOCUMENTATION_CIDRS.find((d) => {
            const doc = parseCidr(d) as Ipv4Cidr;
            return c !== undefined && c.prefix >= doc.prefix && canonicalCidr({ address: c.address, prefix: doc.prefix }).address === doc.address;
        });
        if (range !== undefined) {
            problems.push(`${configNamespace}:cluster.eks.publicAccessCidrs[${i}]: ${JSON.stringify(text)} is a placeholder in the documentation range ${range} (RFC 5737); set your operators' and CI runners' egress CIDRs, or [] for a private-only endpoint`);
        }
    });
    return problems;
}

/** The `index`-th sub-block of `parent` with prefix `prefix` (>= the parent's prefix). */
export function subBlock(parent: Ipv4Cidr, prefix: number, index: number): Ipv4Cidr {
    const count = 2 ** (prefix - parent.prefix);
    if (prefix < parent.prefix || index < 0 || index >= count) {
        throw new Error(`${formatCidr(parent)} has no sub-block /${prefix} number ${index}`);
    }
    return { address: parent.address + index * 2 ** (32 - prefix), prefix };
}

/** Smallest and largest VPC prefix the subnet layout supports. */
export const VPC_PREFIX_RANGE = { min: 16, max: 20 } as const;
/** Most availability zones the subnet layout supports. */
export const MAX_ZONES = 6;

/** Subnet CIDRs per availability zone, index i for zone i. */
export interface SubnetLayout {
    public: string[];
    private: string[];
    internalLoadBalancer: string[];
}

/**
 * Subnets for `zones` availability zones in `vpcCidr`. The VPC is cut in eighths: eighth i
 * (i < 6) is zone i's private subnet, where nodes and, through the VPC CNI, every pod take their
 * addresses (a /19 each in a /16); the last eighth is cut in sixteenths: the first six for the
 * public subnets, which only hold NAT gateways and internet-facing load balancers' interfaces,
 * sixteenths 8 to 13 for the internal load balancers' own subnets, where nothing else takes an
 * address (a /23 each in a /16, a /27 in a /20: an NLB takes one address per subnet, and the
 * load-balancer controller skips subnets with fewer than 8 free).
 */
export function subnetLayout(vpcCidr: string, zones: number): SubnetLayout {
    const vpc = parseCidr(vpcCidr);
    if (!vpc || cidrProblem(vpcCidr)) throw new Error(`VPC CIDR ${vpcCidr} is not a valid IPv4 CIDR block`);
    if (vpc.prefix < VPC_PREFIX_RANGE.min || vpc.prefix > VPC_PREFIX_RANGE.max) {
        throw new Error(`VPC CIDR ${vpcCidr} must have a prefix between /${VPC_PREFIX_RANGE.min} and /${VPC_PREFIX_RANGE.max}`);
    }
    if (!Number.isInteger(zones) || zones < 1 || zones > MAX_ZONES) throw new Error(`zone count ${zones} must be between 1 and ${MAX_ZONES}`);
    const lastEighth = subBlock(vpc, vpc.prefix + 3, 7);
    const zoneIndexes = [...Array(zones).keys()];
    return {
        private: zoneIndexes.map((i) => formatCidr(subBlock(vpc, vpc.prefix + 3, i))),
        public: zoneIndexes.map((i) => formatCidr(subBlock(lastEighth, vpc.prefix + 7, i))),
        internalLoadBalancer: zoneIndexes.map((i) => formatCidr(subBlock(lastEighth, vpc.prefix + 7, 8 + i))),
    };
}

/** Most nodes a cluster may have (each of minSize, desiredSize and maxSize). */
export const MAX_NODES = 1000;

/** The node counts of a cluster or of one node group. */
export interface NodeCounts {
    minSize: number;
    desiredSize: number;
    maxSize: number;
}

/** The keys of {@link NodeCounts}, in the order they are checked and reported. */
export const NODE_COUNT_KEYS = ["minSize", "desiredSize", "maxSize"] as const satisfies readonly (keyof NodeCounts)[];

/**
 * Zones the cluster's nodes span: one per private subnet of an existing VPC, else the configured
 * zone count. There is one node group per zone.
 */
export function zoneCount(network: { availabilityZones: number; privateSubnetIds?: readonly string[] }): number {
    return network.privateSubnetIds?.length ?? network.availabilityZones;
}

/**
 * Why a cluster-wide node count cannot be shared equally by one node group per zone, or undefined
 * when it can; names the nearest counts that can (within 1..{@link MAX_NODES}).
 */
export function zoneMultipleProblem(total: number, zones: number): string | undefined {
    const below = total - (total % zones);
    if (below === total) return undefined;
    const nearest = [below, below + zones].filter((n) => n > 0 && n <= MAX_NODES);
    return `is not a multiple of the ${zones} zones (one node group per zone, sized equally; use ${nearest.join(" or ")})`;
}

/** Each zone's node group's share of the cluster-wide counts; throws when one does not split equally. */
export function zonalScaling(total: NodeCounts, zones: number): NodeCounts {
    const share = (key: keyof NodeCounts): number => {
        const problem = zoneMultipleProblem(total[key], zones);
        if (problem) throw new Error(`nodes.${key}: ${total[key]} ${problem}`);
        return total[key] / zones;
    };
    return { minSize: share("minSize"), desiredSize: share("desiredSize"), maxSize: share("maxSize") };
}

/** EC2 instance type: family (with generation and options) `.` size, e.g. `m6i.large`, `c7gn.16xlarge`, `m7i-flex.xlarge`. */
export const INSTANCE_TYPE = /^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.[0-9]*(nano|micro|small|medium|large|xlarge|metal)(-[0-9]+xl)?$/;

/** CPU architecture of an instance type: Graviton families carry a `g` after the generation digit (`m7g`, `c6gn`, `t4g`). */
export function instanceArchitecture(instanceType: string): "arm64" | "x86_64" {
    const family = instanceType.split(".")[0] ?? "";
    const options = /^[a-z-]*[0-9]+(.*)$/.exec(family)?.[1] ?? "";
    return options.includes("g") ? "arm64" : "x86_64";
}

/** The Amazon Linux 2023 AMI type for a node group of these instance types (all one architecture). */
export function al2023AmiType(instanceTypes: readonly string[]): "AL2023_ARM_64_STANDARD" | "AL2023_x86_64_STANDARD" {
    const archs = new Set(instanceTypes.map(instanceArchitecture));
    if (archs.size !== 1) throw new Error(`instance types ${instanceTypes.join(", ")} mix CPU architectures; one node group needs one`);
    return archs.has("arm64") ? "AL2023_ARM_64_STANDARD" : "AL2023_x86_64_STANDARD";
}

/** Docker platform images must be built for to run on nodes of an AL2023 AMI type. */
export function dockerPlatform(amiType: ReturnType<typeof al2023AmiType>): "linux/arm64" | "linux/amd64" {
    return amiType === "AL2023_ARM_64_STANDARD" ? "linux/arm64" : "linux/amd64";
}

/** One Cluster Autoscaler release for a Kubernetes minor: the chart that installs it and the image it runs. */
export interface ClusterAutoscalerRelease {
    /** Version of the `cluster-autoscaler` chart (https://kubernetes.github.io/autoscaler). */
    chart: string;
    /** `tag@digest` of registry.k8s.io/autoscaling/cluster-autoscaler. */
    image: string;
}

/**
 * Cluster Autoscaler chart and image per Kubernetes minor version, a pair whose RBAC is checked
 * (test/cluster-autoscaler-rbac.test.ts): the chart's ClusterRole and Role must grant every list,
 * watch and write the autoscaler at that tag makes. The autoscaler's minor must match the control
 * plane's (its README: "We don't do cross version testing or compatibility testing in other
 * environments"), so a Kubernetes version is supported only once a release is paired with it
 * here. 1.34 is left out: it leaves EKS standard support on 2026-12-02.
 *
 * Chart 9.59.0 (kubernetes/autoscaler tag cluster-autoscaler-chart-9.59.0) is the newest chart;
 * the autoscaler from 1.35 on always runs its DRA informers, whose `resource.k8s.io` rule arrived
 * in chart 9.54.0 (commit d4a3ca1d9b). No chart defaults to these images (9.59.0's `image.tag` is
 * v1.35.0), so the image is always set here. Images: the newest patch of each minor (tags
 * cluster-autoscaler-1.35.2 and cluster-autoscaler-1.36.1, both 2026-07-22). The digests were
 * recorded by an earlier session; no official source readable offline records them (the
 * registry's promotion manifest, kubernetes/k8s.io registry.k8s.io/images/k8s-staging-autoscaling/images.yaml,
 * is not fetchable here), so confirm them before a real deploy with
 * `crane digest registry.k8s.io/autoscaling/cluster-autoscaler:<tag>`.
 */
export const CLUSTER_AUTOSCALER_RELEASES: Readonly<Record<string, ClusterAutoscalerRelease>> = {
    "1.35": { chart: "9.59.0", image: "v1.35.2@sha256:aac369dc283927a623deb1af54696efcc722ae79255aa07788422e495bab887d" },
    "1.36": { chart: "9.59.0", image: "v1.36.1@sha256:461388d03eb5b55db58941ee7a81d9a619dd15302b01cbab9f5a9946715994b4" },
};
