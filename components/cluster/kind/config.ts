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
     * needed where the kind network is not routable from the host (macOS, Windows). Default: on
     * when the host is not Linux.
     */
    lbPortMapping: z.boolean().optional(),
});

/** The kind block, fully defaulted. */
export type KindSettings = z.infer<typeof kindSchema>;
