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
        public: z.boolean(),
        callers: z.array(z.string()),
        env: z.record(z.string().regex(envName, "is not a valid environment variable name"), z.string()),
        health: z.strictObject({
            liveness: z.string().startsWith("/", "must be a path starting with /"),
            readiness: z.string().startsWith("/", "must be a path starting with /"),
        }),
    })
    .superRefine((s, ctx) => {
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
const eksSchema = z.strictObject({});

const clusterSchema = z.strictObject({
    /** `kind` (local, the default), `eks` (AWS) or `existing` (whatever the current kubeconfig points at). */
    flavour: flavourSchema.default("kind"),
    /** existing: kubeconfig context to use; default the current context. */
    context: z.string().min(1, "must not be empty").optional(),
    /** existing: registry prefix images are pushed to (e.g. ghcr.io/acme); none by default. */
    registry: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._/-]+)?$/, "is not a registry prefix (e.g. ghcr.io/acme or localhost:5000)").optional(),
    /** kind: workers, nodeImage, registryPort, lbPortMapping (each defaulted). */
    kind: kindSchema.prefault({}),
    eks: eksSchema.default({}),
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
    public: true,
    callers: [] as string[],
    env: {} as Record<string, string>,
    health: { liveness: "/healthz", readiness: "/readyz" },
};

/** Per-service defaults for the three built-in services (merged over {@link SERVICE_DEFAULTS}). */
export function builtInServiceDefaults(name: string): Record<string, unknown> {
    const build = { context: "services", dockerfile: `services/${name}/Dockerfile` };
    switch (name) {
        case "backend":
            return { build };
        case "messages":
            return { build, callers: ["backend"] };
        case "reports":
            return { build, callers: ["backend"], resources: { requests: { cpu: "250m", memory: "128Mi" }, limits: { memory: "256Mi" } } };
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

function isPlainObject(v: Json): v is Record<string, Json> {
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

/**
 * Turn raw stack config into validated settings, or throw one {@link ConfigError} listing every
 * problem, one line each.
 */
export function parseSettings(raw: RawConfig, project: string, stack: string): Settings {
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

/** Read `kubeforge:*` from the running stack's config and validate it. */
export function loadSettings(): Settings {
    const raw: RawConfig = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!key.startsWith(prefix)) continue;
        raw[key.slice(prefix.length)] = parseConfigValue(value);
    }
    return parseSettings(raw, pulumi.getProject(), pulumi.getStack());
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
