/**
 * Stack config of the kind flavour: the `kubeforge:cluster.kind` block, its defaults and its
 * messages, and the kind release the defaults are pinned for. Composed into the stack's schema by
 * components/config.ts.
 */
import { z } from "zod";
import { pinnedByTagAndDigest } from "../../formats";

/**
 * The kind release this project is tested with, and the node image built for it: kind's release
 * notes (https://github.com/kubernetes-sigs/kind/releases/tag/v0.33.0) list each node image by tag
 * and digest and say only the digest guarantees an image built for that release.
 */
export const KIND_RELEASE = "0.33.0";
/** Default `kindest/node` image: Kubernetes v1.37.0, built for kind {@link KIND_RELEASE}. */
export const KIND_NODE_IMAGE = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5";

/** The `kubeforge:cluster.kind` block: every key defaulted. */
export const kindSchema = z.strictObject({
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
     * needed where the kind network is not routable from the host (the daemon runs in a VM:
     * macOS, Windows, Docker Desktop on Linux). Default: on unless the daemon runs on this Linux
     * machine itself, and always in WSL2.
     */
    lbPortMapping: z.boolean().optional(),
    /**
     * First host port of the services' load balancers: backend, messages and reports get it and
     * the next two, further services the ports after, in config order. Default 8081.
     */
    lbPortBase: z.number().int("must be a whole number")
        .min(1024, "must be at least 1024 (an unprivileged host port)")
        .max(65535, "must be at most 65535")
        .default(8081),
});

/** The kind block, fully defaulted. */
export type KindSettings = z.infer<typeof kindSchema>;

/** kind cluster name for a project and stack: lower-case letters, digits and `-`. */
export function kindClusterName(project: string, stack: string): string {
    return `${project}-${stack}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
}

/**
 * The host port of each service's load balancer, which on kind is also its Service port:
 * cloud-provider-kind v0.11.1 publishes a Service port P as `--publish=0.0.0.0:P:P/TCP`
 * (`pkg/loadbalancer/server.go` createLoadBalancer), and one cloud-provider-kind serves every kind
 * cluster on the Docker host, so every load balancer needs a port of its own. The built-in services
 * keep their slots (base, base+1, base+2, in `builtIns` order) whether enabled or not; the others
 * follow in the order given.
 */
export function kindLoadBalancerPorts(base: number, services: readonly string[], builtIns: readonly string[]): Map<string, number> {
    const extras = services.filter((s) => !builtIns.includes(s));
    return new Map(services.map((s) => [s, base + (builtIns.includes(s) ? builtIns.indexOf(s) : builtIns.length + extras.indexOf(s))]));
}

/**
 * Rules of the kind block that need the services: their load balancers' host ports (`ports`, from
 * {@link kindLoadBalancerPorts}) must fit below 65536 and miss the registry's port. One line per
 * problem.
 */
export function kindStackProblems(kind: KindSettings, ports: ReadonlyMap<string, number>, ns: string): string[] {
    const all = [...ports.values()];
    if (all.length === 0) return [];
    const [low, high] = [Math.min(...all), Math.max(...all)];
    const range = `${low}–${high}`;
    const problems: string[] = [];
    const [topService] = [...ports].find(([, port]) => port === high) ?? [];
    if (high > 65535) {
        problems.push(`${ns}:cluster.kind.lbPortBase: ${kind.lbPortBase} gives ${topService} host port ${high}, above 65535; choose at most ${kind.lbPortBase - (high - 65535)}`);
    }
    const clash = [...ports].find(([, port]) => port === kind.registryPort);
    if (clash) {
        problems.push(`${ns}:cluster.kind.lbPortBase: ${kind.lbPortBase} gives ${clash[0]} host port ${clash[1]}, which is registryPort; choose lbPortBase or registryPort so the load balancers' ports (${range}) miss the registry's`);
    }
    return problems;
}
