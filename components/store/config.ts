/**
 * Stack config of the store: the `kubeforge:store` block (which store the services that keep
 * state use, and its size), its defaults per cluster flavour and environment, and its messages.
 * Composed into the stack's schema by components/config.ts.
 *
 * - `incluster` (default on kind and existing): Valkey in a StatefulSet, on a volume of the
 *   cluster's default StorageClass;
 * - `elasticache` (default on eks): Amazon ElastiCache for Valkey in the VPC's private subnets;
 * - `external`: a store you already run, its URL given as a Pulumi secret.
 */
import { z } from "zod";
import { cidr, cpu, memory, memoryBytes, resourceLimitIssues } from "../formats";

/** The store kinds, as `kubeforge:store.kind` names them. */
export const STORE_KINDS = ["incluster", "elasticache", "external"] as const;

/** The name of the store's Kubernetes objects (reserved: no service may be called this). */
export const STORE_NAME = "store";

/** Port every store of the program listens on (the Redis protocol's). */
export const STORE_PORT = 6379;

/**
 * Smallest memory limit of the in-cluster store: messages' caps let it hold 64 MiB of message
 * bodies (services/messages/src/app.ts, MEMORY_BUDGET_BYTES), and Valkey needs room around them
 * for keys, list overhead and the fork of an append-only-file rewrite.
 */
export const MIN_STORE_MEMORY = "128Mi";

/**
 * ElastiCache for Valkey engine versions (major.minor) the program accepts: those AWS lists as
 * supported for node-based clusters (ElastiCache user guide, "Engine versions and upgrading in
 * ElastiCache": Valkey 7.2, 8.0, 8.1, 8.2, 9.0, 9.1).
 */
export const ELASTICACHE_VALKEY_VERSIONS = ["7.2", "8.0", "8.1", "8.2", "9.0", "9.1"] as const;

/** Most nodes of a replication group without cluster mode: a primary and five replicas. */
export const MAX_ELASTICACHE_NODES = 6;

/** Longest automatic-snapshot retention ElastiCache accepts, in days. */
export const MAX_SNAPSHOT_RETENTION_DAYS = 35;

/** ElastiCache defaults: production is Multi-AZ with failover and a week of snapshots; others are one small node. */
export const ELASTICACHE_DEFAULTS = {
    production: { nodeType: "cache.m7g.large", nodes: 2, snapshotRetentionDays: 7 },
    other: { nodeType: "cache.t4g.small", nodes: 1, snapshotRetentionDays: 1 },
} as const;

const wholeNumber = z.number().int("must be a whole number");

/** In-cluster store defaults: a 1Gi volume, 100m CPU and 256Mi of memory (the limit equal to the request). */
export const IN_CLUSTER_DEFAULTS = {
    storage: "1Gi",
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "256Mi" } },
} as const;

const inClusterSchema = z
    .strictObject({
        /** Size of its volume (a PersistentVolumeClaim on the default StorageClass); default 1Gi. */
        storage: memory.default(IN_CLUSTER_DEFAULTS.storage),
        resources: z
            .strictObject({
                requests: z.strictObject({ cpu: cpu.default(IN_CLUSTER_DEFAULTS.resources.requests.cpu), memory: memory.default(IN_CLUSTER_DEFAULTS.resources.requests.memory) }).prefault({}),
                limits: z.strictObject({ cpu: cpu.optional(), memory: memory.default(IN_CLUSTER_DEFAULTS.resources.limits.memory) }).prefault({}),
            })
            .prefault({}),
    })
    .superRefine((s, ctx) => {
        const limit = memoryBytes(s.resources.limits.memory);
        if (limit < memoryBytes(MIN_STORE_MEMORY)) {
            ctx.addIssue({ code: "custom", path: ["resources", "limits", "memory"], message: `is below ${MIN_STORE_MEMORY} (messages' caps let the store hold 64 MiB of message bodies)` });
        }
        resourceLimitIssues(s.resources, ctx);
        if (memoryBytes(s.storage) < 2 * limit) {
            ctx.addIssue({ code: "custom", path: ["storage"], message: `is below twice the memory limit ${s.resources.limits.memory} (the append-only file grows to about twice the data before Valkey rewrites it)` });
        }
    });

const elastiCacheSchema = z.strictObject({
    /** Node type; default cache.m7g.large in production, cache.t4g.small elsewhere. */
    nodeType: z.string().regex(/^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$/, "is not an ElastiCache node type (e.g. cache.t4g.small, cache.m7g.large)").optional(),
    /** Nodes: a primary and nodes-1 replicas in other zones; default 2 in production (Multi-AZ, automatic failover), 1 elsewhere. */
    nodes: wholeNumber.min(1, "must be at least 1").max(MAX_ELASTICACHE_NODES, `must be at most ${MAX_ELASTICACHE_NODES} (a primary and five replicas)`).optional(),
    /** Engine version; default 9.0. */
    engineVersion: z.enum(ELASTICACHE_VALKEY_VERSIONS).default("9.0"),
    /** Days automatic daily snapshots are kept (0: none); default 7 in production, 1 elsewhere. */
    snapshotRetentionDays: wholeNumber.min(0, "must be at least 0").max(MAX_SNAPSHOT_RETENTION_DAYS, `must be at most ${MAX_SNAPSHOT_RETENTION_DAYS}`).optional(),
});

const externalSchema = z.strictObject({
    /**
     * `redis://` or `rediss://` URL, with the password if it needs one; required, and only as a
     * Pulumi secret (`pulumi config set --secret --path store.external.url <url>`).
     */
    url: z.union([z.string(), z.strictObject({ secure: z.string() })], { error: "is not a URL string" }).optional(),
    /** IPv4 CIDRs the store's addresses are in: messages' NetworkPolicy admits its port there and nowhere else new. Required. */
    cidrs: z.array(cidr).optional(),
});

/** The `kubeforge:store` block as written; {@link resolveStore} fills in the defaults that depend on the stack. */
export const storeSchema = z.strictObject({
    /** incluster | elasticache | external; default elasticache on eks, incluster elsewhere. */
    kind: z.enum(STORE_KINDS).optional(),
    incluster: inClusterSchema.optional(),
    elasticache: elastiCacheSchema.optional(),
    external: externalSchema.optional(),
});

export type StoreKind = (typeof STORE_KINDS)[number];
type InClusterSettings = z.infer<typeof inClusterSchema>;

/** The store, fully defaulted and validated for its stack. */
export type StoreSettings =
    | ({ kind: "incluster" } & InClusterSettings)
    | { kind: "elasticache"; nodeType: string; nodes: number; engineVersion: (typeof ELASTICACHE_VALKEY_VERSIONS)[number]; snapshotRetentionDays: number }
    | {
          kind: "external";
          /** The URL (a secret: never logged, exported or shown in a message). */
          url: string;
          /** Port of the URL (default 6379), which messages' NetworkPolicy admits. */
          port: number;
          cidrs: string[];
      };

/** What the defaults and checks of {@link resolveStore} depend on. */
export interface StoreContext {
    /** `kubeforge:cluster.flavour`. */
    flavour: "kind" | "eks" | "existing";
    /** Whether the stack is a production one. */
    production: boolean;
    /** Whether the stack holds `kubeforge:store` as a secret (required for an external URL). */
    secret: boolean;
}

/**
 * The store's settings for a stack, or the problems with them, one line each under `key`
 * (`kubeforge:store`). The external URL is never shown in a problem: it may carry a password.
 */
export function resolveStore(block: z.infer<typeof storeSchema>, ctx: StoreContext, key: string): { settings?: StoreSettings; problems: string[] } {
    const kind: StoreKind = block.kind ?? (ctx.flavour === "eks" ? "elasticache" : "incluster");
    const problems: string[] = [];
    for (const other of STORE_KINDS) {
        if (other !== kind && block[other] !== undefined) problems.push(`${key}.${other}: is set, but ${key}.kind is "${kind}"; remove the block or set kind to "${other}"`);
    }
    if (kind === "elasticache" && ctx.flavour !== "eks") {
        problems.push(`${key}.kind: "elasticache" needs cluster.flavour "eks" (this stack's is "${ctx.flavour}"; allowed here: "incluster", "external")`);
    }
    if (kind === "incluster" && ctx.flavour === "eks") {
        problems.push(`${key}.kind: "incluster" is not available on eks: the cluster has no default StorageClass for the store's volume (no EBS CSI driver); use "elasticache" (the default there) or "external"`);
    }
    switch (kind) {
        case "incluster":
            return problems.length > 0 ? { problems } : { settings: { kind, ...(block.incluster ?? inClusterSchema.parse({})) }, problems };
        case "elasticache": {
            const e = block.elasticache ?? elastiCacheSchema.parse({});
            const defaults = ctx.production ? ELASTICACHE_DEFAULTS.production : ELASTICACHE_DEFAULTS.other;
            const nodes = e.nodes ?? defaults.nodes;
            if (ctx.production && nodes < 2) {
                problems.push(`${key}.elasticache.nodes: ${nodes} is too few for production; at least 2 (a replica in another zone, Multi-AZ with automatic failover)`);
            }
            const settings = { kind, nodeType: e.nodeType ?? defaults.nodeType, nodes, engineVersion: e.engineVersion, snapshotRetentionDays: e.snapshotRetentionDays ?? defaults.snapshotRetentionDays };
            return problems.length > 0 ? { problems } : { settings, problems };
        }
        case "external": {
            const { url: given, cidrs } = block.external ?? {};
            // A stack file read without the CLI (synth, doctor) has the ciphertext: `{secure: ...}`.
            const encrypted = typeof given === "object";
            const url = typeof given === "string" ? given : undefined;
            const address = url === undefined ? undefined : storeUrlProblem(url);
            if (encrypted) {
                problems.push(`${key}.external.url: (encrypted) cannot be read without the Pulumi CLI (npm run synth and doctor do not decrypt secrets); pulumi preview and up read it`);
            } else if (url === undefined) {
                problems.push(`${key}.external.url: (missing) must be set for kind "external" (pulumi config set --secret --path ${key.replace(/^[^:]+:/, "")}.external.url rediss://...)`);
            } else if (typeof address === "string") {
                problems.push(`${key}.external.url: (not shown: a secret) ${address}`);
            } else if (!ctx.secret) {
                problems.push(`${key}.external.url: (not shown) is in plain text in the stack file; set it as a secret: pulumi config set --secret --path ${key.replace(/^[^:]+:/, "")}.external.url <url>`);
            }
            if (cidrs === undefined || cidrs.length === 0) {
                problems.push(`${key}.external.cidrs: ${cidrs === undefined ? "(missing)" : "[]"} must list the IPv4 CIDRs the store's addresses are in (messages' NetworkPolicy admits only those)`);
            }
            if (problems.length > 0 || url === undefined || cidrs === undefined || typeof address !== "object") return { problems };
            return { settings: { kind, url, port: address.port, cidrs }, problems };
        }
    }
}

/**
 * Why `url` is not a store URL, or its port when it is one: the rules messages applies to its
 * `STORE_URL` (services/messages/src/app.ts, storeUrlVar): `redis://` or `rediss://`, a host, an
 * optional port, an optional database number 0-15 as the path, no query. Never repeats the URL.
 */
export function storeUrlProblem(url: string): string | { port: number } {
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        return "is not a URL (expected redis://host:6379 or rediss://host:6379)";
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") return "is not a redis:// or rediss:// URL";
    if (parsed.hostname === "") return "has no host";
    if (parsed.search !== "" || parsed.hash !== "") return "must not have a query or fragment";
    const path = parsed.pathname.replace(/^\//, "");
    if (path !== "" && !/^([0-9]|1[0-5])$/.test(path)) return "has a path that is not a database number 0-15";
    return { port: parsed.port === "" ? STORE_PORT : Number(parsed.port) };
}
