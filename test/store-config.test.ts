// kubeforge:store (issue #13): which store, its size, its defaults per flavour and environment,
// and one clear line per bad value. An external URL is a secret: no line ever shows it.
import { describe, expect, it } from "vitest";
import { ConfigError, parseSettings, type RawConfig } from "../components/config";
import { ELASTICACHE_DEFAULTS, storeUrlProblem } from "../components/store/config";

const EKS = {
    flavour: "eks",
    eks: { adminPrincipalArn: "arn:aws:iam::210987654321:role/platform", publicAccessCidrs: [] },
};

function parse(raw: RawConfig, secretKeys: string[] = []) {
    return parseSettings(raw, "kubeforge", "test", { awsRegion: "eu-west-1", secretKeys });
}

/** The problems a config produces (one line each), or [] when it is valid. */
function problems(raw: RawConfig, secretKeys: string[] = []): string[] {
    try {
        parse(raw, secretKeys);
        return [];
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).message.split("\n");
    }
}

describe("store defaults", () => {
    it("runs Valkey in the cluster on kind and existing, 1Gi of volume and 256Mi of memory", () => {
        for (const flavour of ["kind", "existing"]) {
            expect(parse({ cluster: { flavour } }).store).toEqual({
                kind: "incluster",
                storage: "1Gi",
                resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "256Mi" } },
            });
        }
    });

    it("uses ElastiCache on eks: Multi-AZ and a week of snapshots in production, one small node elsewhere", () => {
        expect(parse({ cluster: EKS, environment: "production" }).store).toEqual({ kind: "elasticache", engineVersion: "9.0", ...ELASTICACHE_DEFAULTS.production });
        expect(parse({ cluster: EKS, environment: "staging" }).store).toEqual({ kind: "elasticache", engineVersion: "9.0", ...ELASTICACHE_DEFAULTS.other });
        expect(ELASTICACHE_DEFAULTS.production.nodes).toBeGreaterThanOrEqual(2);
    });

    it("sizes each kind from its own block, field by field", () => {
        const inCluster = parse({ store: { incluster: { storage: "4Gi", resources: { limits: { memory: "1Gi" } } } } }).store;
        expect(inCluster).toEqual({ kind: "incluster", storage: "4Gi", resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } } });
        const cache = parse({ cluster: EKS, environment: "production", store: { elasticache: { nodes: 3, nodeType: "cache.r7g.large", snapshotRetentionDays: 14, engineVersion: "8.2" } } }).store;
        expect(cache).toEqual({ kind: "elasticache", nodes: 3, nodeType: "cache.r7g.large", snapshotRetentionDays: 14, engineVersion: "8.2" });
    });

    it("takes an external store's URL only from a secret, with the CIDRs it lives in", () => {
        const store = { kind: "external", external: { url: "rediss://:pw@cache.example.internal:6380", cidrs: ["10.8.0.0/24"] } };
        expect(parse({ store }, ["kubeforge:store"]).store).toEqual({ kind: "external", url: "rediss://:pw@cache.example.internal:6380", port: 6380, cidrs: ["10.8.0.0/24"] });
        expect(parse({ cluster: EKS, store: { ...store, external: { ...store.external, url: "redis://cache.example.internal" } } }, ["kubeforge:store"]).store).toMatchObject({ kind: "external", port: 6379 });
    });

    it("lets messages use the store by default, and any service opt in", () => {
        const s = parse({ services: { search: { image: "ghcr.io/acme/search:1.4.2", store: true } } });
        expect(s.services.filter((x) => x.store).map((x) => x.name)).toEqual(["messages", "search"]);
    });
});

describe("bad store config: one line naming the key, the value and what is allowed", () => {
    const cases: [string, RawConfig, string][] = [
        ["an unknown kind", { store: { kind: "redis" } },
            'kubeforge:store.kind: "redis" is not allowed (allowed: "incluster", "elasticache", "external")'],
        ["a typo in the block", { store: { incluster: { storge: "1Gi" } } },
            "kubeforge:store.incluster.storge: is not a known key (allowed: storage, resources)"],
        ["elasticache off EKS", { store: { kind: "elasticache" } },
            'kubeforge:store.kind: "elasticache" needs cluster.flavour "eks" (this stack\'s is "kind"; allowed here: "incluster", "external")'],
        ["incluster on EKS", { cluster: EKS, store: { kind: "incluster" } },
            'kubeforge:store.kind: "incluster" is not available on eks: the cluster has no default StorageClass for the store\'s volume (no EBS CSI driver); use "elasticache" (the default there) or "external"'],
        ["a block of another kind", { store: { elasticache: { nodes: 2 } } },
            'kubeforge:store.elasticache: is set, but kubeforge:store.kind is "incluster"; remove the block or set kind to "elasticache"'],
        ["too little memory", { store: { incluster: { resources: { requests: { memory: "64Mi" }, limits: { memory: "64Mi" } } } } },
            'kubeforge:store.incluster.resources.limits.memory: "64Mi" is below 128Mi (messages\' caps let the store hold 64 MiB of message bodies)'],
        ["a limit below the request", { store: { incluster: { resources: { requests: { memory: "512Mi" } } } } },
            'kubeforge:store.incluster.resources.limits.memory: "256Mi" is below the request 512Mi'],
        ["a volume smaller than twice the memory", { store: { incluster: { storage: "300Mi" } } },
            'kubeforge:store.incluster.storage: "300Mi" is below twice the memory limit 256Mi (the append-only file grows to about twice the data before Valkey rewrites it)'],
        ["a bad quantity", { store: { incluster: { storage: "lots" } } },
            'kubeforge:store.incluster.storage: "lots" is not a memory quantity (e.g. 128Mi, 1Gi)'],
        ["one node in production", { cluster: EKS, environment: "production", store: { elasticache: { nodes: 1 } } },
            "kubeforge:store.elasticache.nodes: 1 is too few for production; at least 2 (a replica in another zone, Multi-AZ with automatic failover)"],
        ["too many nodes", { cluster: EKS, store: { elasticache: { nodes: 7 } } },
            "kubeforge:store.elasticache.nodes: 7 must be at most 6 (a primary and five replicas)"],
        ["a node type that is not one", { cluster: EKS, store: { elasticache: { nodeType: "m7g.large" } } },
            'kubeforge:store.elasticache.nodeType: "m7g.large" is not an ElastiCache node type (e.g. cache.t4g.small, cache.m7g.large)'],
        ["an engine version ElastiCache does not offer", { cluster: EKS, store: { elasticache: { engineVersion: "7.0" } } },
            'kubeforge:store.elasticache.engineVersion: "7.0" is not allowed (allowed: "7.2", "8.0", "8.1", "8.2", "9.0", "9.1")'],
        ["snapshots kept too long", { cluster: EKS, store: { elasticache: { snapshotRetentionDays: 36 } } },
            "kubeforge:store.elasticache.snapshotRetentionDays: 36 must be at most 35"],
        ["an external store without URL and CIDRs", { store: { kind: "external" } },
            "kubeforge:store.external.url: (missing) must be set for kind \"external\" (pulumi config set --secret --path store.external.url rediss://...)"],
        ["an external CIDR with host bits", { store: { kind: "external", external: { cidrs: ["10.8.0.1/24"] } } },
            'kubeforge:store.external.cidrs[0]: "10.8.0.1/24" has host bits set (did you mean 10.8.0.0/24?)'],
        ["a service called store", { services: { store: { image: "ghcr.io/acme/store:1.0.0" } } },
            'kubeforge:services.store: "store" is the name of the store\'s objects; call the service something else'],
        ["store not a boolean", { services: { reports: { store: "yes" } } },
            'kubeforge:services.reports.store: "yes" is not a boolean'],
    ];
    it.each(cases)("%s", (_what, raw, line) => {
        expect(problems(raw)).toContain(line);
    });

    it("says exactly one line for each bad value", () => {
        expect(problems({ store: { incluster: { storage: "300Mi" } } })).toHaveLength(1);
        expect(problems({ cluster: EKS, environment: "production", store: { elasticache: { nodes: 1 } } })).toHaveLength(1);
    });

    it("asks for the external CIDRs", () => {
        const store = { kind: "external", external: { url: "rediss://cache.example.internal" } };
        expect(problems({ store }, ["kubeforge:store"])).toEqual([
            "kubeforge:store.external.cidrs: (missing) must list the IPv4 CIDRs the store's addresses are in (messages' NetworkPolicy admits only those)",
        ]);
        expect(problems({ store: { ...store, external: { ...store.external, cidrs: [] } } }, ["kubeforge:store"])).toEqual([
            "kubeforge:store.external.cidrs: [] must list the IPv4 CIDRs the store's addresses are in (messages' NetworkPolicy admits only those)",
        ]);
    });

    it("refuses an external URL in plain text, and never shows it", () => {
        const store = { kind: "external", external: { url: "rediss://:hunter2@cache.example.internal", cidrs: ["10.8.0.0/24"] } };
        const lines = problems({ store });
        expect(lines).toEqual([
            "kubeforge:store.external.url: (not shown) is in plain text in the stack file; set it as a secret: pulumi config set --secret --path store.external.url <url>",
        ]);
        const bad = problems({ store: { ...store, external: { ...store.external, url: "https://:hunter2@cache.example.internal" } } }, ["kubeforge:store"]);
        expect(bad).toEqual(["kubeforge:store.external.url: (not shown: a secret) is not a redis:// or rediss:// URL"]);
        expect([...lines, ...bad].join("\n")).not.toContain("hunter2");
    });
});

describe("an encrypted external URL read without the CLI", () => {
    it("says it cannot be read offline, in one line", () => {
        const store = { kind: "external", external: { url: { secure: "v1:c2VjcmV0:Y2lwaGVy" }, cidrs: ["10.8.0.0/24"] } };
        expect(problems({ store }, ["kubeforge:store"])).toEqual([
            "kubeforge:store.external.url: (encrypted) cannot be read without the Pulumi CLI (npm run synth and doctor do not decrypt secrets); pulumi preview and up read it",
        ]);
    });
});

describe("storeUrlProblem", () => {
    it.each([
        ["redis://store:6379", { port: 6379 }],
        ["rediss://default:pw@cache.example.internal", { port: 6379 }],
        ["rediss://cache.example.internal:6380/0", { port: 6380 }],
        ["http://cache", "is not a redis:// or rediss:// URL"],
        ["cache:6379", "is not a redis:// or rediss:// URL"],
        ["redis://", "has no host"],
        ["redis://cache:99999", "is not a URL (expected redis://host:6379 or rediss://host:6379)"],
        ["redis://cache/16", "has a path that is not a database number 0-15"],
        ["redis://cache?tls=1", "must not have a query or fragment"],
    ])("%s -> %j", (url, expected) => {
        expect(storeUrlProblem(url)).toEqual(expected);
    });
});
