/**
 * Helpers every policy shares: typed config with the schema's defaults, tolerance of values that
 * are unknown during `pulumi preview`, and the Deployment index the stack-wide policies use.
 */
import type {
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    StackValidationArgs,
} from "@pulumi/policy";
import { UnknownValueError } from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import {
    describeObject,
    type Deployment,
    type HorizontalPodAutoscaler,
    K8S,
    type LabelSelector,
    namespaceOf,
    type ObjectMeta,
    podSpecOf,
    type PodSpec,
    selects,
} from "./kubernetes";

/** What both resource and stack validation args offer for reading config. */
export interface ConfigSource {
    getConfig<T extends object>(): T;
}

/**
 * The policy's config: values from the policy pack config file, the schema's `default` for
 * anything not given, so policies never depend on whether the caller (the Pulumi engine, the
 * offline runner, a test) filled the defaults in.
 */
export function readConfig<T extends object>(schema: PolicyConfigSchema, args: ConfigSource): T {
    const given = (args.getConfig<Record<string, unknown>>() ?? {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, prop] of Object.entries(schema.properties)) {
        out[key] = given[key] ?? (prop as PolicyConfigJSONSchema).default;
    }
    return out as T;
}

/** The `production` knob: shared by the policies that are stricter in production stacks. */
export const PRODUCTION_KNOB: PolicyConfigJSONSchema = {
    type: "boolean",
    default: false,
    description: "Whether this stack is a production stack (set in policy/config/prod.json).",
};

/**
 * Run `check`, treating a value that is unknown during `pulumi preview` as a pass: the policy
 * cannot judge it, and the update will see the real value. Any other error propagates.
 */
export function skipUnknown(check: () => void): void {
    try {
        check();
    } catch (e) {
        if (!(e instanceof UnknownValueError)) throw e;
    }
}

/** A Deployment (or StatefulSet) of the stack with what the stack-wide policies need to relate it to others. */
export interface DeploymentEntry {
    resource: PolicyResource;
    deployment: Deployment;
    /** `Deployment <namespace>/<name>` (or `StatefulSet ...`), for messages. */
    label: string;
    namespace: string;
    name: string;
    /** Labels of its pods (the pod template's). */
    podLabels: Record<string, string>;
}

/** An HPA of the stack with the Deployment it targets, if it targets one. */
export interface HpaEntry {
    resource: PolicyResource;
    hpa: HorizontalPodAutoscaler;
    label: string;
    namespace: string;
    /** Name of the targeted Deployment, undefined when it targets another kind. */
    target: string | undefined;
    /** `spec.minReplicas`, defaulting to 1 as Kubernetes does. */
    minReplicas: number;
    maxReplicas: number | undefined;
}

/** Every Deployment of the stack, in registration order. */
export function deploymentsOf(args: Pick<StackValidationArgs, "resources">): DeploymentEntry[] {
    return controllersOf(args, [K8S.deployment]);
}

/**
 * Every Deployment and StatefulSet of the stack (the controllers of long-running pods: services
 * and stores), in registration order. A StatefulSet's selector and pod template sit where a
 * Deployment's do, so it is read through the same shape.
 */
export function podControllersOf(args: Pick<StackValidationArgs, "resources">): DeploymentEntry[] {
    return controllersOf(args, [K8S.deployment, K8S.statefulSet]);
}

function controllersOf(args: Pick<StackValidationArgs, "resources">, types: string[]): DeploymentEntry[] {
    return args.resources
        .filter((r) => types.includes(r.type))
        .map((resource) => {
            const deployment = resource.props as Deployment;
            return {
                resource,
                deployment,
                label: describeObject(resource.type, deployment, resource.name),
                namespace: namespaceOf(deployment),
                name: deployment.metadata?.name ?? resource.name,
                podLabels: deployment.spec?.template?.metadata?.labels ?? {},
            };
        });
}

/** Every HPA of the stack, in registration order. */
function hpasOf(args: Pick<StackValidationArgs, "resources">): HpaEntry[] {
    return args.resources
        .filter((r) => r.type === K8S.hpa)
        .map((resource) => {
            const hpa = resource.props as HorizontalPodAutoscaler;
            const ref = hpa.spec?.scaleTargetRef;
            return {
                resource,
                hpa,
                label: describeObject(resource.type, hpa, resource.name),
                namespace: namespaceOf(hpa),
                target: ref?.kind === "Deployment" ? ref.name : undefined,
                minReplicas: hpa.spec?.minReplicas ?? 1,
                maxReplicas: hpa.spec?.maxReplicas,
            };
        });
}

/**
 * Every Deployment of the stack with the HPAs that scale it (same namespace, `scaleTargetRef`
 * naming it), in registration order.
 */
export function autoscaledDeployments(args: Pick<StackValidationArgs, "resources">): { d: DeploymentEntry; owners: HpaEntry[] }[] {
    const hpas = hpasOf(args);
    return deploymentsOf(args).map((d) => ({ d, owners: hpas.filter((h) => h.namespace === d.namespace && h.target === d.name) }));
}

/**
 * A resource validation that runs `check` on the pod spec of every workload (Deployment,
 * StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod) and ignores other resources.
 */
export function validateWorkload(
    check: (spec: PodSpec, label: string, report: ReportViolation, args: ResourceValidationArgs) => void,
): ResourceValidation {
    return (args, report) => {
        const spec = podSpecOf(args.type, args.props);
        if (spec === undefined) return;
        check(spec, describeObject(args.type, args.props as { metadata?: ObjectMeta }, args.name), report, args);
    };
}

/** An object that selects pods by label (a PodDisruptionBudget or a NetworkPolicy). */
export interface SelectorEntry<T> {
    resource: PolicyResource;
    object: T;
    label: string;
    namespace: string;
    selector: LabelSelector | undefined;
}

/** Every object of `type` in the stack, with the pod selector `selectorOf` reads from it. */
export function selectorsOf<T extends { metadata?: ObjectMeta }>(
    args: Pick<StackValidationArgs, "resources">,
    type: string,
    selectorOf: (object: T) => LabelSelector | undefined,
): SelectorEntry<T>[] {
    return args.resources
        .filter((r) => r.type === type)
        .map((resource) => {
            const object = resource.props as T;
            return { resource, object, label: describeObject(type, object, resource.name), namespace: namespaceOf(object), selector: selectorOf(object) };
        });
}

/** The entries that select a Deployment's pods (same namespace, selector matching its pod labels). */
export function selecting<T>(entries: SelectorEntry<T>[], d: DeploymentEntry): SelectorEntry<T>[] {
    return entries.filter((e) => e.namespace === d.namespace && selects(e.selector, d.podLabels));
}

/**
 * A resource validation for one type token: `check` gets the resource's inputs typed as `T`;
 * resources of other types are ignored.
 */
export function validateType<T>(type: string, check: (props: T, args: ResourceValidationArgs, report: ReportViolation) => void): ResourceValidation {
    return (args, report) => {
        if (args.type === type) check(args.props as T, args, report);
    };
}
