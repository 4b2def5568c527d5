/**
 * Value formats shared by the config schemas of the program and of each cluster flavour:
 * names, Kubernetes quantities, image references, percentages, IPv4 CIDR blocks. Pure, tested
 * directly.
 */
import { z } from "zod";

/** DNS-1035 label, short enough that derived object names (`<name>-default-deny`) fit in 63. */
export const DNS_LABEL = /^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/;

export const CPU_QUANTITY = /^([0-9]+m|[0-9]+(\.[0-9]{1,3})?)$/;
export const MEMORY_QUANTITY = /^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
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

/** `<name>:<tag>@sha256:<digest>`: a node image pinned the way kind's release notes list them. */
export function pinnedByTagAndDigest(ref: string): boolean {
    const m = IMAGE_REFERENCE.exec(ref);
    return m?.groups?.tag !== undefined && m.groups.digest !== undefined;
}

/** A whole percentage, 1 to 100. */
export const percent = z.number().int("must be a whole number").min(1, "must be at least 1").max(100, "must be at most 100");

/** A CPU quantity ({@link CPU_QUANTITY}). */
export const cpu = z.string().regex(CPU_QUANTITY, "is not a CPU quantity (e.g. 250m, 0.5, 2)");
/** A memory quantity ({@link MEMORY_QUANTITY}). */
export const memory = z.string().regex(MEMORY_QUANTITY, "is not a memory quantity (e.g. 128Mi, 1Gi)");

/** Container resources as the config schemas parse them: the CPU limit is optional. */
export interface ResourceQuantities {
    requests: { cpu: string; memory: string };
    limits: { cpu?: string; memory: string };
}

/** Adds an issue at `resources.limits.<memory|cpu>` for each limit below its request. */
export function resourceLimitIssues(resources: ResourceQuantities, ctx: Pick<z.RefinementCtx, "addIssue">): void {
    if (memoryBytes(resources.limits.memory) < memoryBytes(resources.requests.memory)) {
        ctx.addIssue({ code: "custom", path: ["resources", "limits", "memory"], message: `is below the request ${resources.requests.memory}` });
    }
    const cpuLimit = resources.limits.cpu;
    if (cpuLimit !== undefined && cpuMillis(cpuLimit) < cpuMillis(resources.requests.cpu)) {
        ctx.addIssue({ code: "custom", path: ["resources", "limits", "cpu"], message: `is below the request ${resources.requests.cpu}` });
    }
}

/** An IPv4 CIDR block: network address as a 32-bit unsigned number and prefix length. */
export interface Ipv4Cidr {
    address: number;
    prefix: number;
}

const CIDR_SYNTAX = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parse `a.b.c.d/n`; undefined when it is not IPv4 CIDR syntax (octets 0..255, prefix 0..32). */
export function parseCidr(text: string): Ipv4Cidr | undefined {
    const m = CIDR_SYNTAX.exec(text);
    if (!m) return undefined;
    const octets = m.slice(1, 5).map(Number);
    const prefix = Number(m[5]);
    if (octets.some((o) => o > 255) || prefix > 32) return undefined;
    const address = octets.reduce((acc, o) => acc * 256 + o, 0);
    return { address, prefix };
}

/** `a.b.c.d/n` for a parsed block. */
export function formatCidr({ address, prefix }: Ipv4Cidr): string {
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256);
    return `${octets.join(".")}/${prefix}`;
}

/** The block with its host bits cleared (what AWS stores for `10.0.0.1/16`: `10.0.0.0/16`). */
export function canonicalCidr(c: Ipv4Cidr): Ipv4Cidr {
    const size = 2 ** (32 - c.prefix);
    return { address: Math.floor(c.address / size) * size, prefix: c.prefix };
}

/**
 * Why a CIDR string is not acceptable, or undefined when it is: it must parse and have no host
 * bits set.
 */
export function cidrProblem(text: string): string | undefined {
    const c = parseCidr(text);
    if (!c) return "is not an IPv4 CIDR block (e.g. 10.0.0.0/16)";
    const canonical = canonicalCidr(c);
    if (canonical.address !== c.address) return `has host bits set (did you mean ${formatCidr(canonical)}?)`;
    return undefined;
}

/** An IPv4 CIDR block without host bits ({@link cidrProblem}). */
export const cidr = z.string().superRefine((value, ctx) => {
    const problem = cidrProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});
