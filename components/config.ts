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
import { eksSchema, eksStackProblems } from "./cluster/eks/config";
import { existingClusterShape } from "./cluster/existing/config";
import { kindLoadBalancerPorts, kindSchema, kindStackProblems, type KindSettings } from "./cluster/kind/config";
import { CLUSTER_FLAVOURS } from "./cluster/types";
import { cpu, DNS_LABEL, imageReferenceProblem, memory, percent, resourceLimitIssues } from "./formats";
import { IN_CLUSTER_DEFAULTS, resolveStore, STORE_NAME, storeSchema, type StoreSettings } from "./store/config";

/** The config namespace: every key is `kubeforge:<key>`. */
export const CONFIG_NAMESPACE = "kubeforge";

/** Top-level keys this program reads; any other `kubeforge:*` key is a typo and rejected. */
export const TOP_LEVEL_KEYS = ["environment", "namespace", "cluster", "store", "services"] as const;

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
// Schemas
// ---------------------------------------------------------------------------------------------

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
        store: z.boolean(),
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
        resourceLimitIssues(s.resources, ctx);
        if (s.image !== undefined && s.build !== undefined) {
            ctx.addIssue({ code: "custom", path: ["image"], message: "is set together with build; give exactly one of image and build" });
        } else if (s.image === undefined && s.build === undefined) {
            ctx.addIssue({ code: "custom", path: ["image"], message: "is missing; give either image (a pinned reference) or build (a Docker build context)" });
        } else if (s.image !== undefined) {
            const problem = imageReferenceProblem(s.image);
            if (problem) ctx.addIssue({ code: "custom", path: ["image"], message: problem });
        }
    });

const flavourSchema = z.enum(CLUSTER_FLAVOURS);

// Each flavour owns its block: components/cluster/<flavour>/config.ts.
const clusterSchema = z.strictObject({
    /** `kind` (local, the default), `eks` (AWS) or `existing` (whatever the current kubeconfig points at). */
    flavour: flavourSchema.default("kind"),
    ...existingClusterShape,
    /** kind: workers, nodeImage, registryPort, lbPortMapping, lbPortBase (each defaulted). */
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
    store: false,
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
            // Its topics live in the store, so every replica sees every message.
            return { ...node, callers: ["backend"], store: true };
        case "reports":
            return { ...node, callers: ["backend"], resources: { ...node.resources, requests: { cpu: "250m", memory: "256Mi" } } };
        default:
            return {};
    }
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export type Environment = z.infer<typeof environmentSchema>;
export type BuildSettings = z.infer<typeof buildSchema>;
export type ClusterSettings = z.infer<typeof clusterSchema>;
export type { StoreSettings } from "./store/config";

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
    /** The store the services with `store: true` keep their state in. */
    store: StoreSettings;
    /** Enabled services only, in config order (the three defaults first). */
    services: ServiceSettings[];
}

/**
 * The host port of each service's load balancer on kind ({@link kindLoadBalancerPorts}, with the
 * default services in their fixed slots): the ports the kind cluster publishes, the doctor checks
 * and {@link parseSettings} validates, computed here alone so that they never drift apart.
 */
export function kindServicePorts(kind: Pick<KindSettings, "lbPortBase">, services: readonly Pick<ServiceSettings, "name">[]): Map<string, number> {
    return kindLoadBalancerPorts(kind.lbPortBase, services.map((s) => s.name), DEFAULT_SERVICE_NAMES);
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

/** The value at a zod issue's path in the input; undefined where the path leaves the input. */
export function valueAt(root: Json, path: readonly PropertyKey[]): Json {
    let v: Json = root;
    for (const p of path) {
        if (!isPlainObject(v) && !Array.isArray(v)) return undefined;
        v = (v as Record<PropertyKey, Json>)[p];
    }
    return v;
}

/** A value as an error line shows it: JSON, or `(missing)`. */
export function show(value: Json): string {
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
    /** Config keys (`kubeforge:store`, ...) the stack holds as Pulumi secrets; default none. */
    secretKeys?: readonly string[];
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

    let store: StoreSettings | undefined;
    // The in-cluster defaults go in before validation, so a rule across fields names the value in force.
    const rawStore = isPlainObject(raw.store) && isPlainObject(raw.store.incluster) ? { ...raw.store, incluster: deepMerge(IN_CLUSTER_DEFAULTS, raw.store.incluster) } : raw.store;
    const storeBlock = storeSchema.default({}).safeParse(rawStore);
    if (!storeBlock.success) problems.push(...formatIssues("store", storeBlock.error, rawStore, storeSchema));
    else if (cluster.success && environment.success) {
        const secret = (providerConfig.secretKeys ?? []).includes(`${CONFIG_NAMESPACE}:store`);
        const resolved = resolveStore(storeBlock.data, { flavour: cluster.data.flavour, production: environment.data === "production", secret }, `${CONFIG_NAMESPACE}:store`);
        problems.push(...resolved.problems);
        store = resolved.settings;
    }

    const services = parseServices(raw.services, problems);

    if (cluster.success && cluster.data.flavour === "kind") {
        problems.push(...kindStackProblems(cluster.data.kind, kindServicePorts(cluster.data.kind, services), CONFIG_NAMESPACE));
    }
    if (cluster.success && cluster.data.flavour === "eks") {
        const internal = services.filter((s) => s.loadBalancer === "internal").map((s) => s.name);
        problems.push(...eksStackProblems(cluster.data.eks, environment.data, providerConfig.awsRegion, internal, CONFIG_NAMESPACE));
    }

    if (problems.length > 0 || !environment.success || !namespace.success || !cluster.success || !store) {
        throw new ConfigError(problems);
    }
    return { project, stack, environment: environment.data, namespace: namespace.data, cluster: cluster.data, store, services };
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
        if (name === STORE_NAME) {
            problems.push(`${CONFIG_NAMESPACE}:${key}: "${name}" is the name of the store's objects; call the service something else`);
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
 * `kubeforge:*` keys, and `aws:region` for the EKS flavour. `secretKeys` are the keys the stack
 * holds as secrets.
 */
export function settingsFromConfig(config: Record<string, Json>, project: string, stack: string, secretKeys: readonly string[] = []): Settings {
    const raw: RawConfig = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [key, value] of Object.entries(config)) {
        if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = value;
    }
    const region = config["aws:region"];
    return parseSettings(raw, project, stack, { awsRegion: typeof region === "string" ? region : undefined, secretKeys });
}

/**
 * `isConfigSecret` is exported by @pulumi/pulumi's runtime (runtime/config.js) but marked
 * `@internal`, so its .d.ts leaves it out. It reads `PULUMI_CONFIG_SECRET_KEYS`, the keys the CLI
 * holds as secrets; an object-valued key with any `--secret --path` value under it is itself
 * secure (pulumi/pulumi sdk/go/common/resource/config/value.go, NewSecureObjectValue). Without
 * the function no key counts as secret, and an external store URL is refused rather than trusted.
 */
const secretConfig = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };

/** Read the running stack's config (and which keys it holds as secrets) and validate it. */
export function loadSettings(): Settings {
    const all = Object.fromEntries(Object.entries(pulumi.runtime.allConfig()).map(([key, text]) => [key, parseConfigValue(text)]));
    const secretKeys = Object.keys(all).filter((key) => secretConfig.isConfigSecret?.(key) === true);
    return settingsFromConfig(all, pulumi.getProject(), pulumi.getStack(), secretKeys);
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
