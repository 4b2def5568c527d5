/**
 * The one place stack config is read and validated.
 *
 * Raw `kubeforge:*` stack config goes in, typed {@link Settings} come out. Every invalid value
 * becomes one line naming the key, the bad value and what is allowed, e.g.
 * `kubeforge:services.backend.replicas.max: 1 is below min 2`, raised as a {@link ConfigError}
 * (a `pulumi.RunError`, so Pulumi prints the message without a stack trace).
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { cidrProblem, CLUSTER_AUTOSCALER_IMAGES, INSTANCE_TYPE, instanceArchitecture, MAX_NODES, MAX_ZONES, NODE_COUNT_KEYS, parseCidr, VPC_PREFIX_RANGE, zoneCount, zoneMultipleProblem } from "./cluster/eks-values";

/** The config namespace: every key is `kubeforge:<key>`. */
export const CONFIG_NAMESPACE = "kubeforge";

/** Top-level keys this program reads; any other `kubeforge:*` key is a typo and rejected. */
export const TOP_LEVEL_KEYS = ["environment", "namespace", "cluster", "services"] as const;

/** The three services every stack gets unless it disables them. */
export const DEFAULT_SERVICE_NAMES = ["backend", "messages", "reports"] as const;

/** Raised for invalid stack config: one line per problem, no stack trace. */
export class ConfigError extends pulumi.RunError {
    constructor(readonly problems: string[]) {
        super(problems.join("\n"));
        this.name = "ConfigError";
    }
}

// ---------------------------------------------------------------------------------------------
// Value formats
// ---------------------------------------------------------------------------------------------

/** DNS-1035 label, short enough that derived object names (`<name>-default-deny`) fit in 63. */
const DNS_LABEL = /^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/;

const CPU_QUANTITY = /^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$/;
const MEMORY_QUANTITY = /^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const MEMORY_FACTORS: Record<string, number> = {
    "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
};

/** CPU quantity (`250m`, `0.5`, `2`) in millicores. */
export function cpuMillis(quantity: string): number {
    return quantity.endsWith("m") ? Number(quantity.slice(0, -1)) : Math.round(Number(quantity) * 1000);
}

/** Memory quantity (`128Mi`, `1G`, `1048576`) in bytes; NaN when it is not one. */
export function memoryBytes(quantity: string): number {
    const m = /^([0-9]+)([A-Za-z]*)$/.exec(quantity);
    return m ? Number(m[1]) * (MEMORY_FACTORS[m[2] ?? ""] ?? NaN) : NaN;
}

// Reference grammar after github.com/distribution/reference (lower-case path, optional registry
// host with port, tag and/or digest).
const REF_DOMAIN = String.raw`(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+|[a-zA-Z0-9-]+(?=:[0-9]+/))(?::[0-9]+)?`;
const REF_COMPONENT = String.raw`[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`;
const IMAGE_REFERENCE = new RegExp(
    String.raw`^(?:${REF_DOMAIN}/)?${REF_COMPONENT}(?:/${REF_COMPONENT})*` +
        String.raw`(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$`,
);

/**
 * Why an image reference is not acceptable, or undefined when it is: it must parse, and be pinned
 * by a tag other than `latest` or by a digest.
 */
export function imageReferenceProblem(ref: string): string | undefined {
    const m = IMAGE_REFERENCE.exec(ref);
    if (!m) return "is not a valid image reference (expected [registry/]name:tag or name@sha256:<64 hex>)";
    const { tag, digest } = m.groups ?? {};
    if (digest) return undefined;
    if (!tag) return "has no tag; pin a version tag (not latest) or a digest";
    if (tag === "latest") return "uses the mutable tag latest; pin a version tag or a digest";
    return undefined;
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

const cpu = z.string().regex(CPU_QUANTITY, "is not a CPU quantity (e.g. 250m, 0.5, 2)");
const memory = z.string().regex(MEMORY_QUANTITY, "is not a memory quantity (e.g. 128Mi, 1Gi)");
const percent = z.number().int("must be a whole number").min(1, "must be at least 1").max(100, "must be at most 100");

const buildSchema = z.strictObject({
    /** Docker build context, relative to the project root. */
    context: z.string().min(1, "must not be empty"),
    /** Dockerfile, relative to the project root; default `<context>/Dockerfile`. */
    dockerfile: z.string().min(1, "must not be empty").optional(),
    /** Multi-stage target, if any. */
    target: z.string().min(1).optional(),
    /** Build arguments. */
    args: z.record(z.string(), z.string()).default({}),
});

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

const serviceSchema = z
    .strictObject({
        enabled: z.boolean().default(true),
        image: z.string().optional(),
        build: buildSchema.optional(),
        port: z.number().int("must be a whole number").min(1024, "must be at least 1024 (the container runs without privileges)").max(65535, "must be at most 65535"),
        servicePort: z.number().int("must be a whole number").min(1, "must be at least 1").max(65535, "must be at most 65535"),
        replicas: z.strictObject({
            min: z.number().int("must be a whole number").min(1, "must be at least 1").max(100, "must be at most 100"),
            max: z.number().int("must be a whole number").min(1, "must be at least 1").max(100, "must be at most 100"),
        }),
        resources: z.strictObject({
            requests: z.strictObject({ cpu, memory }),
            limits: z.strictObject({ cpu: cpu.optional(), memory }),
        }),
        autoscaling: z.strictObject({
            cpuUtilization: percent,
            memoryUtilization: percent,
        }),
        loadBalancer: z.enum(["public", "internal", "none"]),
        metricsPort: z.number().int("must be a whole number").min(1024, "must be at least 1024 (the container runs without privileges)").max(65535, "must be at most 65535"),
        callers: z.array(z.string()),
        env: z.record(z.string().regex(envName, "is not a valid environment variable name"), z.string()),
        health: z.strictObject({
            liveness: z.string().startsWith("/", "must be a path starting with /"),
            readiness: z.string().startsWith("/", "must be a path starting with /"),
        }),
    })
    .superRefine((s, ctx) => {
        if (s.metricsPort === s.port) {
            ctx.addIssue({ code: "custom", path: ["metricsPort"], message: `is the same as port; /metrics needs its own port, kept off the load balancer` });
        }
        if (s.replicas.max < s.replicas.min) {
            ctx.addIssue({ code: "custom", path: ["replicas", "max"], message: `is below min ${s.replicas.min}` });
        }
        if (memoryBytes(s.resources.limits.memory) < memoryBytes(s.resources.requests.memory)) {
            ctx.addIssue({ code: "custom", path: ["resources", "limits", "memory"], message: `is below the request ${s.resources.requests.memory}` });
        }
        const cpuLimit = s.resources.limits.cpu;
        if (cpuLimit !== undefined && cpuMillis(cpuLimit) < cpuMillis(s.resources.requests.cpu)) {
            ctx.addIssue({ code: "custom", path: ["resources", "limits", "cpu"], message: `is below the request ${s.resources.requests.cpu}` });
        }
        if (s.image !== undefined && s.build !== undefined) {
            ctx.addIssue({ code: "custom", path: ["image"], message: "is set together with build; give exactly one of image and build" });
        } else if (s.image === undefined && s.build === undefined) {
            ctx.addIssue({ code: "custom", path: ["image"], message: "is missing; give either image (a pinned reference) or build (a Docker build context)" });
        } else if (s.image !== undefined) {
            const problem = imageReferenceProblem(s.image);
            if (problem) ctx.addIssue({ code: "custom", path: ["image"], message: problem });
        }
    });

const flavourSchema = z.enum(["kind", "eks", "existing"]);

/**
 * The kind release this project is tested with, and the node image built for it: kind's release
 * notes (https://github.com/kubernetes-sigs/kind/releases/tag/v0.33.0) list each node image by tag
 * and digest and say only the digest guarantees an image built for that release.
 */
export const KIND_RELEASE = "0.33.0";
/** Default `kindest/node` image: Kubernetes v1.37.0, built for kind {@link KIND_RELEASE}. */
export const KIND_NODE_IMAGE = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5";

/** `<name>:<tag>@sha256:<digest>`: a node image pinned the way kind's release notes list them. */
export function pinnedByTagAndDigest(ref: string): boolean {
    const m = IMAGE_REFERENCE.exec(ref);
    return m?.groups?.tag !== undefined && m.groups.digest !== undefined;
}

// Owned by the kind flavour (components/cluster/kind.ts).
const kindSchema = z.strictObject({
    /** Worker nodes besides the control plane: 1 to 10, default 2. */
    workers: z.number().int("must be a whole number")
        .min(1, "must be at least 1 (load balancers only send traffic to worker nodes)")
        .max(10, "must be at most 10 (every node is a container on this machine)")
        .default(2),
    /** `kindest/node` image, pinned by tag and digest; default {@link KIND_NODE_IMAGE}. */
    nodeImage: z.string()
        .refine(pinnedByTagAndDigest, `is not pinned by tag and digest (expected kindest/node:<version>@sha256:<64 hex>, as kind's release notes list them, e.g. ${KIND_NODE_IMAGE})`)
        .default(KIND_NODE_IMAGE),
    /** Host port of the local image registry, bound to 127.0.0.1: 1024 to 65535, default 5001. */
    registryPort: z.number().int("must be a whole number")
        .min(1024, "must be at least 1024 (an unprivileged host port)")
        .max(65535, "must be at most 65535")
        .default(5001),
    /**
     * Have cloud-provider-kind publish load-balancer ports on the host (`--enable-lb-port-mapping`),
     * needed where the kind network is not routable from the host (macOS, Windows). Default: on
     * when the host is not Linux.
     */
    lbPortMapping: z.boolean().optional(),
});

// Owned by the EKS flavour (components/cluster/eks.ts).
const cidr = z.string().superRefine((value, ctx) => {
    const problem = cidrProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const nodeCount = z.number().int("must be a whole number").min(0, "must be at least 0").max(MAX_NODES, `must be at most ${MAX_NODES}`);
const eksIdList = (kind: string, pattern: RegExp, example: string) =>
    z.array(z.string().regex(pattern, `is not a ${kind} id (e.g. ${example})`)).min(2, "must list at least two (EKS needs two availability zones)");

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** EKS add-ons the cluster installs; a version pinned here wins over the default for the Kubernetes version. */
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
        /** Existing public subnets (load balancers), with vpcId. */
        publicSubnetIds: eksIdList("subnet", /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/, "subnet-0123456789abcdef0").optional(),
        /** Existing private subnets (nodes, pods), with vpcId. */
        privateSubnetIds: eksIdList("subnet", /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/, "subnet-0123456789abcdef0").optional(),
    })
    .superRefine((n, ctx) => {
        const existing = { vpcId: n.vpcId, publicSubnetIds: n.publicSubnetIds, privateSubnetIds: n.privateSubnetIds };
        const given = Object.entries(existing).filter(([, v]) => v !== undefined).map(([k]) => k);
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

const eksSchema = z
    .strictObject({
        /** Kubernetes minor version of the control plane and nodes; default 1.35. */
        kubernetesVersion: z
            .string()
            .regex(/^1\.[0-9]{2}$/, "is not a Kubernetes minor version (e.g. 1.35)")
            .refine((v) => !/^1\.[0-9]{2}$/.test(v) || v in CLUSTER_AUTOSCALER_IMAGES, `has no Cluster Autoscaler release paired with it (supported: ${Object.keys(CLUSTER_AUTOSCALER_IMAGES).join(", ")})`)
            .default("1.35"),
        /**
         * What happens when kubernetesVersion leaves EKS standard support: STANDARD (EKS upgrades the
         * control plane to the next version, no extra charge) or EXTENDED (the version stays, at the
         * paid extended-support rate). Default STANDARD; the EKS API's own default is EXTENDED.
         */
        supportType: z.enum(["STANDARD", "EXTENDED"]).default("STANDARD"),
        /** IAM role or user ARN given cluster-admin through an access entry (required for eks). */
        adminPrincipalArn: z.string().regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)\/[\w+=,.@/-]+$/, "is not an IAM role or user ARN (e.g. arn:aws:iam::111122223333:role/platform-admin)").optional(),
        /** ACM certificate ARN: internet-facing NLBs then listen with TLS on 443 (TLS 1.3/1.2). Default none (plain HTTP on servicePort). */
        loadBalancerCertificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate\/[0-9a-f-]{36}$/, "is not an ACM certificate ARN (e.g. arn:aws:acm:eu-west-1:111122223333:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab)").optional(),
        /** CIDRs allowed to reach the public API endpoint; [] keeps the endpoint private only. Default []. */
        publicAccessCidrs: z.array(cidr).default([]),
        /** Retention of the control-plane log group in days; default 90. */
        logRetentionDays: z.number().refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `is not a CloudWatch retention period (allowed: ${LOG_RETENTION_DAYS.join(", ")})`).default(90),
        /** Images each ECR repository keeps (older ones expire); default 30. */
        keepImages: z.number().int("must be a whole number").min(1, "must be at least 1").max(1000, "must be at most 1000").default(30),
        /** Pinned add-on versions; an add-on left out gets the default version for kubernetesVersion. */
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

/**
 * Checks that need more than the eks block: `aws:region` must be set, an admin principal given,
 * and production must not open the API endpoint to the whole internet. Fills in the region.
 */
function checkEks(cluster: z.infer<typeof clusterSchema>, environment: Environment | undefined, awsRegion: string | undefined): string[] {
    if (cluster.flavour !== "eks") return [];
    const problems: string[] = [];
    if (awsRegion === undefined || awsRegion === "") {
        problems.push(`aws:region: (missing) must be set when ${CONFIG_NAMESPACE}:cluster.flavour is "eks" (e.g. pulumi config set aws:region eu-west-1)`);
    } else if (!/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$/.test(awsRegion)) {
        problems.push(`aws:region: ${JSON.stringify(awsRegion)} is not an AWS region (e.g. eu-west-1)`);
    } else {
        cluster.eks.region = awsRegion;
    }
    if (cluster.eks.adminPrincipalArn === undefined) {
        problems.push(`${CONFIG_NAMESPACE}:cluster.eks.adminPrincipalArn: (missing) must be set when cluster.flavour is "eks" (the IAM role or user that administers the cluster)`);
    }
    if (environment === "production") {
        cluster.eks.publicAccessCidrs.forEach((c, i) => {
            if (parseCidr(c)?.prefix === 0) {
                problems.push(`${CONFIG_NAMESPACE}:cluster.eks.publicAccessCidrs[${i}]: ${JSON.stringify(c)} opens the API endpoint to the whole internet, which production does not allow (list operator CIDRs, or [] for a private endpoint)`);
            }
        });
    }
    return problems;
}

const clusterSchema = z.strictObject({
    /** `kind` (local, the default), `eks` (AWS) or `existing` (whatever the current kubeconfig points at). */
    flavour: flavourSchema.default("kind"),
    /** existing: kubeconfig context to use; default the current context. */
    context: z.string().min(1, "must not be empty").optional(),
    /** existing: registry prefix images are pushed to (e.g. ghcr.io/acme); none by default. */
    registry: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._/-]+)?$/, "is not a registry prefix (e.g. ghcr.io/acme or localhost:5000)").optional(),
    /** kind: workers, nodeImage, registryPort, lbPortMapping (each defaulted). */
    kind: kindSchema.prefault({}),
    /** eks: cluster, network, nodes, add-ons and images in AWS (each defaulted; adminPrincipalArn required). */
    eks: eksSchema.prefault({}),
});

const environmentSchema = z.enum(["development", "staging", "production"]);

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

/** Defaults every service starts from, before its own defaults and the stack's overrides. */
export const SERVICE_DEFAULTS = {
    enabled: true,
    port: 8080,
    servicePort: 80,
    replicas: { min: 1, max: 5 },
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    autoscaling: { cpuUtilization: 70, memoryUtilization: 80 },
    loadBalancer: "public",
    metricsPort: 9464,
    callers: [] as string[],
    env: {} as Record<string, string>,
    health: { liveness: "/healthz", readiness: "/readyz" },
};

/** Per-service defaults for the three built-in services (merged over {@link SERVICE_DEFAULTS}). */
export function builtInServiceDefaults(name: string): Record<string, unknown> {
    const node = {
        build: { context: "services", dockerfile: `services/${name}/Dockerfile` },
        // Node.js: requests at the working set, and V8's heap capped well inside the limit, so the
        // memory HPA sees real growth rather than a heap V8 never hands back.
        resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
        env: { NODE_OPTIONS: "--max-old-space-size=384" },
    };
    switch (name) {
        case "backend":
            return node;
        case "messages":
            return { ...node, callers: ["backend"] };
        case "reports":
            return { ...node, callers: ["backend"], resources: { ...node.resources, requests: { cpu: "250m", memory: "256Mi" } } };
        default:
            return {};
    }
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export type ClusterFlavour = z.infer<typeof flavourSchema>;
export type Environment = z.infer<typeof environmentSchema>;
export type BuildSettings = z.infer<typeof buildSchema>;
export type ClusterSettings = z.infer<typeof clusterSchema>;
export type KindSettings = z.infer<typeof kindSchema>;
export type EksSettings = z.infer<typeof eksSchema>;

/** One service, fully defaulted and validated. */
export type ServiceSettings = z.infer<typeof serviceSchema> & {
    /** The service's name: its key under `kubeforge:services`. */
    name: string;
};

/** Everything the program needs, typed and validated. */
export interface Settings {
    /** Pulumi project name. */
    project: string;
    /** Pulumi stack name. */
    stack: string;
    /** `development`, `staging` or `production`; production turns on deletion protection. */
    environment: Environment;
    /** Namespace the services run in. */
    namespace: string;
    cluster: ClusterSettings;
    /** Enabled services only, in config order (the three defaults first). */
    services: ServiceSettings[];
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

type Json = unknown;

/** A JSON object (not an array, not null). */
export function isPlainObject(v: Json): v is Record<string, Json> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars from `override` replace those of `base`. */
export function deepMerge(base: Json, override: Json): Json {
    if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
    const out: Record<string, Json> = { ...base };
    for (const [k, v] of Object.entries(override)) out[k] = deepMerge(base[k], v);
    return out;
}

function valueAt(root: Json, path: readonly PropertyKey[]): Json {
    let v: Json = root;
    for (const p of path) {
        if (!isPlainObject(v) && !Array.isArray(v)) return undefined;
        v = (v as Record<PropertyKey, Json>)[p];
    }
    return v;
}

function show(value: Json): string {
    if (value === undefined) return "(missing)";
    return JSON.stringify(value);
}

function describeIssue(issue: z.core.$ZodIssue, input: Json, schema: z.ZodType): { path: PropertyKey[]; text: string } {
    const path = [...issue.path];
    switch (issue.code) {
        case "unrecognized_keys": {
            // Report each unknown key under its own full name.
            const key = issue.keys[0] ?? "";
            return { path: [...path, key], text: `is not a known key (allowed: ${keysOfShape(schema, path).join(", ")})` };
        }
        case "invalid_key": {
            const key = path[path.length - 1];
            return { path, text: `${JSON.stringify(key)} ${issue.issues[0]?.message ?? issue.message}` };
        }
        case "invalid_value":
            return { path, text: `${show(valueAt(input, path))} is not allowed (allowed: ${issue.values.map((v) => JSON.stringify(v)).join(", ")})` };
        case "invalid_type":
            return { path, text: `${show(valueAt(input, path))} is not a ${issue.expected === "int" ? "whole number" : issue.expected}` };
        default:
            return { path, text: `${show(valueAt(input, path))} ${issue.message}` };
    }
}

function keysOfShape(schema: z.ZodType, path: PropertyKey[]): string[] {
    let s: z.ZodType | undefined = schema;
    for (const p of path) {
        s = unwrap(s);
        if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(p)];
        else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
        else return [];
    }
    s = unwrap(s);
    return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType | undefined): z.ZodType | undefined {
    let cur = s;
    for (;;) {
        if (cur instanceof z.ZodDefault || cur instanceof z.ZodPrefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
        else if (cur instanceof z.ZodPipe) cur = cur.in as z.ZodType;
        else return cur;
    }
}

/** One line per issue: `kubeforge:<key>: <value> <what is wrong and what is allowed>`. */
function formatIssues(prefix: string, error: z.ZodError, input: Json, schema: z.ZodType): string[] {
    return error.issues.map((issue) => {
        const { path, text } = describeIssue(issue, input, schema);
        const key = path.reduce<string>((k, p) => (typeof p === "number" ? `${k}[${p}]` : k === "" ? String(p) : `${k}.${String(p)}`), prefix);
        return `${CONFIG_NAMESPACE}:${key}: ${text}`;
    });
}

/** Raw `kubeforge:*` config: key (without namespace) to parsed JSON value. */
export type RawConfig = Record<string, Json>;

/** Config of other namespaces the program depends on. */
export interface ProviderConfig {
    /** `aws:region`: where the eks flavour builds the cluster. */
    awsRegion?: string;
}

/**
 * Turn raw stack config into validated settings, or throw one {@link ConfigError} listing every
 * problem, one line each.
 */
export function parseSettings(raw: RawConfig, project: string, stack: string, providerConfig: ProviderConfig = {}): Settings {
    const problems: string[] = [];

    for (const key of Object.keys(raw)) {
        if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) {
            problems.push(`${CONFIG_NAMESPACE}:${key}: is not a known key (allowed: ${TOP_LEVEL_KEYS.join(", ")})`);
        }
    }

    const environment = environmentSchema.default("development").safeParse(raw.environment);
    if (!environment.success) problems.push(...formatIssues("environment", environment.error, raw.environment, environmentSchema));

    const namespaceSchema = z.string().regex(DNS_LABEL, "is not a valid namespace name (lower-case letters, digits and -, starting with a letter, at most 40 characters)").default("kubeforge");
    const namespace = namespaceSchema.safeParse(raw.namespace);
    if (!namespace.success) problems.push(...formatIssues("namespace", namespace.error, raw.namespace, namespaceSchema));

    const cluster = clusterSchema.default(clusterSchema.parse({})).safeParse(raw.cluster);
    if (!cluster.success) problems.push(...formatIssues("cluster", cluster.error, raw.cluster, clusterSchema));

    if (cluster.success) problems.push(...checkEks(cluster.data, environment.data, providerConfig.awsRegion));

    const services = parseServices(raw.services, problems);

    if (problems.length > 0 || !environment.success || !namespace.success || !cluster.success) {
        throw new ConfigError(problems);
    }
    return { project, stack, environment: environment.data, namespace: namespace.data, cluster: cluster.data, services };
}

function parseServices(rawServices: Json, problems: string[]): ServiceSettings[] {
    if (rawServices !== undefined && !isPlainObject(rawServices)) {
        problems.push(`${CONFIG_NAMESPACE}:services: ${show(rawServices)} is not an object of service name to settings`);
        return [];
    }
    const overrides = rawServices ?? {};
    const names = [...DEFAULT_SERVICE_NAMES, ...Object.keys(overrides).filter((n) => !(DEFAULT_SERVICE_NAMES as readonly string[]).includes(n))];

    const parsed: ServiceSettings[] = [];
    const enabled = new Set<string>();
    for (const name of names) {
        const key = `services.${name}`;
        if (!DNS_LABEL.test(name)) {
            problems.push(`${CONFIG_NAMESPACE}:${key}: ${JSON.stringify(name)} is not a valid service name (lower-case letters, digits and -, starting with a letter, at most 40 characters)`);
            continue;
        }
        const override = overrides[name];
        if (override !== undefined && !isPlainObject(override)) {
            problems.push(`${CONFIG_NAMESPACE}:${key}: ${show(override)} is not an object of service settings`);
            continue;
        }
        const merged = deepMerge(deepMerge(SERVICE_DEFAULTS, builtInServiceDefaults(name)), override ?? {});
        if (isPlainObject(merged) && merged.enabled !== false) enabled.add(name);
        const result = serviceSchema.safeParse(merged);
        if (!result.success) {
            problems.push(...formatIssues(key, result.error, merged, serviceSchema));
            continue;
        }
        if (result.data.enabled) parsed.push({ ...result.data, name });
    }

    // Cross-service rules: callers must name other enabled services.
    const known = enabled;
    for (const s of parsed) {
        s.callers.forEach((caller, i) => {
            if (caller === s.name) {
                problems.push(`${CONFIG_NAMESPACE}:services.${s.name}.callers[${i}]: ${JSON.stringify(caller)} is the service itself; list only other services`);
            } else if (!known.has(caller)) {
                problems.push(`${CONFIG_NAMESPACE}:services.${s.name}.callers[${i}]: ${JSON.stringify(caller)} is not an enabled service (allowed: ${[...known].filter((n) => n !== s.name).join(", ")})`);
            }
        });
    }
    if (enabled.size === 0) {
        problems.push(`${CONFIG_NAMESPACE}:services: every service is disabled; enable at least one`);
    }
    return parsed;
}

/**
 * Validate a stack's whole config map (`namespace:key` to value, as Pulumi holds it): the
 * `kubeforge:*` keys, and `aws:region` for the EKS flavour.
 */
export function settingsFromConfig(config: Record<string, Json>, project: string, stack: string): Settings {
    const raw: RawConfig = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [key, value] of Object.entries(config)) {
        if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
    }
    const region = config["aws:region"];
    return parseSettings(raw, project, stack, { awsRegion: typeof region === "string" ? region : undefined });
}

/** Read the running stack's config and validate it. */
export function loadSettings(): Settings {
    const all = Object.fromEntries(Object.entries(pulumi.runtime.allConfig()).map(([key, text]) => [key, parseConfigValue(text)]));
    return settingsFromConfig(all, pulumi.getProject(), pulumi.getStack());
}

/** Pulumi hands structured config over as JSON text and scalars as plain text. */
function parseConfigValue(text: string): Json {
    if (!/^\s*[[{]/.test(text)) return text;
    try {
        return JSON.parse(text) as Json;
    } catch {
        return text;
    }
}
