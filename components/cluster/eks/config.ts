/**
 * Stack config of the EKS flavour: the `kubeforge:cluster.eks` block (cluster, network, nodes,
 * add-ons, images), its defaults and its messages, and the checks that need the rest of the stack
 * config. Composed into the stack's schema by components/config.ts.
 */
import { z } from "zod";
import { cidr, parseCidr, percent } from "../../formats";
import { CLUSTER_AUTOSCALER_RELEASES, INSTANCE_TYPE, instanceArchitecture, MAX_NODES, MAX_ZONES, NODE_COUNT_KEYS, VPC_PREFIX_RANGE, zoneCount, zoneMultipleProblem } from "./values";

const iamPrincipalArn = (exampleRole: string) =>
    z.string().regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)\/[\w+=,.@/-]+$/, `is not an IAM role or user ARN (e.g. arn:aws:iam::111122223333:role/${exampleRole})`);
const nodeCount = z.number().int("must be a whole number").min(0, "must be at least 0").max(MAX_NODES, `must be at most ${MAX_NODES}`);
const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
const eksIdList = (kind: string, pattern: RegExp, example: string) =>
    z.array(z.string().regex(pattern, `is not a ${kind} id (e.g. ${example})`)).min(2, "must list at least two (EKS needs two availability zones)");

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** EKS add-ons the cluster installs; a version pinned in addonVersions is installed, others keep the version EKS created them with. */
export const EKS_ADDONS = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns"] as const;
const addonVersion = z.string().regex(/^v[0-9]+\.[0-9]+\.[0-9]+-eksbuild\.[0-9]+$/, "is not an EKS add-on version (e.g. v1.19.2-eksbuild.1)").optional();

const eksNetworkSchema = z
    .strictObject({
        /** Availability zones to spread subnets and nodes over (2..6); default 3. */
        availabilityZones: z.number().int("must be a whole number").min(2, "must be at least 2 (EKS needs two availability zones)").max(MAX_ZONES, `must be at most ${MAX_ZONES}`).default(3),
        /** CIDR of the VPC the component creates (/16../20); default 10.0.0.0/16. */
        vpcCidr: cidr
            .refine((c) => {
                const prefix = parseCidr(c)?.prefix;
                return prefix === undefined || (prefix >= VPC_PREFIX_RANGE.min && prefix <= VPC_PREFIX_RANGE.max);
            }, `must have a prefix between /${VPC_PREFIX_RANGE.min} and /${VPC_PREFIX_RANGE.max}`)
            .default("10.0.0.0/16"),
        /** NAT gateways: one per zone (survives a zone outage) or a single one (cheaper); default perZone. */
        natGateways: z.enum(["perZone", "single"]).default("perZone"),
        /** Existing VPC to use instead of creating one (give with both subnet lists). */
        vpcId: z.string().regex(/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/, "is not a VPC id (e.g. vpc-0123456789abcdef0)").optional(),
        /** Existing public subnets (internet-facing load balancers, NAT), with vpcId. */
        publicSubnetIds: eksIdList("subnet", SUBNET_ID, "subnet-0123456789abcdef0").optional(),
        /** Existing private subnets (nodes, pods), with vpcId. */
        privateSubnetIds: eksIdList("subnet", SUBNET_ID, "subnet-0123456789abcdef0").optional(),
        /**
         * Existing subnets for internal load balancers only, one per zone, where no node or pod
         * takes an address; with vpcId, required when a service has loadBalancer `internal`.
         */
        internalLoadBalancerSubnetIds: eksIdList("subnet", SUBNET_ID, "subnet-0123456789abcdef0").optional(),
    })
    .superRefine((n, ctx) => {
        const existing = { vpcId: n.vpcId, publicSubnetIds: n.publicSubnetIds, privateSubnetIds: n.privateSubnetIds };
        const given = Object.entries(existing).filter(([, v]) => v !== undefined).map(([k]) => k);
        if (n.internalLoadBalancerSubnetIds !== undefined) {
            if (n.vpcId === undefined) {
                ctx.addIssue({ code: "custom", path: ["internalLoadBalancerSubnetIds"], message: "is only for an existing VPC (with vpcId); a VPC kubeforge creates gets its own internal load-balancer subnets" });
            }
            const shared = n.internalLoadBalancerSubnetIds.filter((id) => [...(n.privateSubnetIds ?? []), ...(n.publicSubnetIds ?? [])].includes(id));
            if (shared.length > 0) {
                ctx.addIssue({ code: "custom", path: ["internalLoadBalancerSubnetIds"], message: `lists ${shared.join(", ")}, which is also a public or private subnet; internal load balancers need subnets of their own, where no node or pod takes an address` });
            }
        }
        if (given.length === 0 || given.length === 3) return;
        for (const key of Object.keys(existing).filter((k) => !given.includes(k))) {
            ctx.addIssue({ code: "custom", path: [key], message: `must be set together with ${given.join(" and ")} (give vpcId, publicSubnetIds and privateSubnetIds, or none to create a VPC)` });
        }
    });

const eksNodesSchema = z
    .strictObject({
        /** Instance types of the managed node groups, one CPU architecture; default [m6i.large]. */
        instanceTypes: z.array(z.string().regex(INSTANCE_TYPE, "is not an EC2 instance type (e.g. m6i.large)")).min(1, "must list at least one instance type").default(["m6i.large"]),
        /** ON_DEMAND or SPOT; default ON_DEMAND. */
        capacityType: z.enum(["ON_DEMAND", "SPOT"]).default("ON_DEMAND"),
        /** Fewest nodes the autoscaler keeps, over the whole cluster (required with nodes; a multiple of the zone count). */
        minSize: nodeCount,
        /** Nodes at creation, over the whole cluster; afterwards the Cluster Autoscaler owns it. Default minSize. */
        desiredSize: nodeCount.optional(),
        /** Most nodes the autoscaler may run, over the whole cluster (required with nodes, at least 1; a multiple of the zone count). */
        maxSize: nodeCount.min(1, "must be at least 1"),
        /** Root volume size in GiB (encrypted gp3); default 50. */
        diskSizeGiB: z.number().int("must be a whole number").min(20, "must be at least 20").max(16384, "must be at most 16384").default(50),
        /** Share of nodes replaced at once during a node-group update; default 33. */
        maxUnavailablePercentage: percent.default(33),
    })
    .superRefine((n, ctx) => {
        if (n.maxSize < n.minSize) ctx.addIssue({ code: "custom", path: ["maxSize"], message: `is below minSize ${n.minSize}` });
        if (n.desiredSize !== undefined && n.desiredSize < n.minSize) ctx.addIssue({ code: "custom", path: ["desiredSize"], message: `is below minSize ${n.minSize}` });
        if (n.desiredSize !== undefined && n.desiredSize > n.maxSize) ctx.addIssue({ code: "custom", path: ["desiredSize"], message: `is above maxSize ${n.maxSize}` });
        const archs = new Set(n.instanceTypes.map(instanceArchitecture));
        if (archs.size > 1 && n.instanceTypes.every((t) => INSTANCE_TYPE.test(t))) ctx.addIssue({ code: "custom", path: ["instanceTypes"], message: "mixes arm64 (Graviton) and x86_64 instance types; one node group needs one architecture" });
    });

/** Node counts per zone when `nodes` is left out: one node in each zone, up to three. */
export const DEFAULT_NODES_PER_ZONE = { minSize: 1, maxSize: 3 } as const;

/** The `kubeforge:cluster.eks` block: defaulted, node counts filled in per zone, region filled in later. */
export const eksSchema = z
    .strictObject({
        /** Kubernetes minor version of the control plane and nodes; default 1.35. */
        kubernetesVersion: z
            .string()
            .regex(/^1\.[0-9]{2}$/, "is not a Kubernetes minor version (e.g. 1.35)")
            .refine((v) => !/^1\.[0-9]{2}$/.test(v) || v in CLUSTER_AUTOSCALER_RELEASES, `has no Cluster Autoscaler release paired with it (supported: ${Object.keys(CLUSTER_AUTOSCALER_RELEASES).join(", ")})`)
            .default("1.35"),
        /**
         * What happens when kubernetesVersion leaves EKS standard support: STANDARD (EKS upgrades the
         * control plane to the next version, no extra charge) or EXTENDED (the version stays, at the
         * paid extended-support rate). Default STANDARD; the EKS API's own default is EXTENDED.
         */
        supportType: z.enum(["STANDARD", "EXTENDED"]).default("STANDARD"),
        /** IAM role or user ARN given cluster-admin through an access entry (required for eks). */
        adminPrincipalArn: iamPrincipalArn("platform-admin").optional(),
        /**
         * IAM role or user ARN CI previews and drift checks run as: a view-only access entry
         * (./preview-access.ts). Default none (no such entry).
         */
        previewPrincipalArn: iamPrincipalArn("kubeforge-preview").optional(),
        /** ACM certificate ARN: internet-facing NLBs then listen with TLS on 443 (TLS 1.3/1.2). Default none (plain HTTP on servicePort). */
        loadBalancerCertificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate\/[0-9a-f-]{36}$/, "is not an ACM certificate ARN (e.g. arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab)").optional(),
        /** CIDRs allowed to reach the public API endpoint; [] keeps the endpoint private only. Default []. */
        publicAccessCidrs: z.array(cidr).default([]),
        /** Retention of the control-plane log group in days; default 90. */
        logRetentionDays: z.number().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `is not a CloudWatch retention period (allowed: ${LOG_RETENTION_DAYS.join(", ")})`).default(90),
        /** Images each ECR repository keeps (older ones expire); default 30. */
        keepImages: z.number().int("must be a whole number").min(1, "must be at least 1").max(1000, "must be at most 1000").default(30),
        /** Pinned add-on versions; an add-on left out keeps the version EKS installed it with (pin one to upgrade it). */
        addonVersions: z.strictObject(Object.fromEntries(EKS_ADDONS.map((a) => [a, addonVersion])) as Record<(typeof EKS_ADDONS)[number], typeof addonVersion>).default({}),
        network: eksNetworkSchema.prefault({}),
        /** Instance types and node counts over the whole cluster; default {@link DEFAULT_NODES_PER_ZONE} times the zone count. */
        nodes: eksNodesSchema.optional(),
    })
    .superRefine((s, ctx) => {
        // One node group per zone, all the same size: each cluster-wide count must split equally.
        // The zone count is only known once the network block is valid.
        if (s.nodes === undefined || ctx.issues.some((i) => i.path?.[0] === "network")) return;
        const zones = zoneCount(s.network);
        for (const key of NODE_COUNT_KEYS) {
            const total = s.nodes[key];
            const problem = total === undefined ? undefined : zoneMultipleProblem(total, zones);
            if (problem) ctx.addIssue({ code: "custom", path: ["nodes", key], message: problem });
        }
    })
    // Default node counts for the zone count, desiredSize from minSize. The region comes from
    // `aws:region`; parseSettings fills it in for the eks flavour.
    .transform((s) => {
        const zones = zoneCount(s.network);
        const nodes = s.nodes ?? eksNodesSchema.parse({ minSize: zones * DEFAULT_NODES_PER_ZONE.minSize, maxSize: zones * DEFAULT_NODES_PER_ZONE.maxSize });
        return { ...s, nodes: { ...nodes, desiredSize: nodes.desiredSize ?? nodes.minSize }, region: "" };
    });

/** The eks block, fully defaulted. */
export type EksSettings = z.infer<typeof eksSchema>;

/**
 * Checks of an eks block that need more than the block, for a stack whose flavour is eks:
 * `aws:region` must be set, an admin principal given (and a preview principal, if any, must be
 * another), production must not open the API endpoint to the whole internet, and an existing VPC
 * must name internal load-balancer subnets when `internalServices` (the services with
 * loadBalancer `internal`) is not empty. Fills in the
 * region. One line per problem, keys under `ns`.
 */
export function eksStackProblems(eks: EksSettings, environment: string | undefined, awsRegion: string | undefined, internalServices: readonly string[], ns: string): string[] {
    const problems: string[] = [];
    if (awsRegion === undefined || awsRegion === "") {
        problems.push(`aws:region: (missing) must be set when ${ns}:cluster.flavour is "eks" (e.g. pulumi config set aws:region eu-west-1)`);
    } else if (!/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$/.test(awsRegion)) {
        problems.push(`aws:region: ${JSON.stringify(awsRegion)} is not an AWS region (e.g. eu-west-1)`);
    } else {
        eks.region = awsRegion;
    }
    if (eks.adminPrincipalArn === undefined) {
        problems.push(`${ns}:cluster.eks.adminPrincipalArn: (missing) must be set when cluster.flavour is "eks" (the IAM role or user that administers the cluster)`);
    }
    if (eks.previewPrincipalArn !== undefined && eks.previewPrincipalArn === eks.adminPrincipalArn) {
        problems.push(`${ns}:cluster.eks.previewPrincipalArn: ${JSON.stringify(eks.previewPrincipalArn)} is the admin principal; previews need a read-only principal of their own (and EKS allows one access entry per principal)`);
    }
    if (eks.network.vpcId !== undefined && eks.network.internalLoadBalancerSubnetIds === undefined && internalServices.length > 0) {
        problems.push(
            `${ns}:cluster.eks.network.internalLoadBalancerSubnetIds: (missing) must be set with vpcId when a service has loadBalancer "internal" (${internalServices.join(", ")}): subnets for internal load balancers only, one per zone, where no node or pod takes an address, so that a service admits its load balancer without admitting every pod`,
        );
    }
    if (environment === "production") {
        eks.publicAccessCidrs.forEach((c, i) => {
            if (parseCidr(c)?.prefix === 0) {
                problems.push(`${ns}:cluster.eks.publicAccessCidrs[${i}]: ${JSON.stringify(c)} opens the API endpoint to the whole internet, which production does not allow (list operator CIDRs, or [] for a private endpoint)`);
            }
        });
    }
    return problems;
}
