/**
 * Kubernetes shapes the policies read, and pure helpers over them: where a workload keeps its pod
 * spec, how a label selector matches, how an object is named in a message.
 *
 * Only the fields the policies look at are typed; everything is optional because policies see
 * whatever a program declared, complete or not.
 */

/** Type tokens of the objects the stack-wide policies relate to each other. */
export const K8S = {
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    service: "kubernetes:core/v1:Service",
    hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    pdb: "kubernetes:policy/v1:PodDisruptionBudget",
    networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
} as const;

export interface ObjectMeta {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
}

export interface LabelSelectorRequirement {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
}

export interface LabelSelector {
    matchLabels?: Record<string, string>;
    matchExpressions?: LabelSelectorRequirement[];
}

export interface Probe {
    httpGet?: { path?: string; port?: number | string };
    tcpSocket?: { port?: number | string };
    exec?: { command?: string[] };
    grpc?: { port?: number; service?: string };
    initialDelaySeconds?: number;
    periodSeconds?: number;
    failureThreshold?: number;
}

export interface SecurityContext {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
}

export interface Container {
    name?: string;
    image?: string;
    resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
    readinessProbe?: Probe;
    livenessProbe?: Probe;
    securityContext?: SecurityContext;
}

export interface PodSpec {
    containers?: Container[];
    initContainers?: Container[];
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
    hostNetwork?: boolean;
    hostPID?: boolean;
    hostIPC?: boolean;
    volumes?: { name?: string; hostPath?: { path?: string } }[];
}

export interface PodTemplate {
    metadata?: ObjectMeta;
    spec?: PodSpec;
}

export interface Deployment {
    metadata?: ObjectMeta;
    spec?: { replicas?: number; selector?: LabelSelector; template?: PodTemplate };
}

export interface HorizontalPodAutoscaler {
    metadata?: ObjectMeta;
    spec?: { scaleTargetRef?: { apiVersion?: string; kind?: string; name?: string }; minReplicas?: number; maxReplicas?: number };
}

export interface PodDisruptionBudget {
    metadata?: ObjectMeta;
    spec?: { selector?: LabelSelector; minAvailable?: number | string; maxUnavailable?: number | string };
}

export interface NetworkPolicy {
    metadata?: ObjectMeta;
    spec?: { podSelector?: LabelSelector };
}

export interface Service {
    metadata?: ObjectMeta;
    spec?: { type?: string };
}

/** Where each workload kind keeps its pod template, by type token. */
const POD_TEMPLATE_PATHS: Record<string, readonly string[]> = {
    "kubernetes:apps/v1:Deployment": ["spec", "template"],
    "kubernetes:apps/v1:StatefulSet": ["spec", "template"],
    "kubernetes:apps/v1:DaemonSet": ["spec", "template"],
    "kubernetes:apps/v1:ReplicaSet": ["spec", "template"],
    "kubernetes:batch/v1:Job": ["spec", "template"],
    "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template"],
    "kubernetes:core/v1:Pod": [],
};

/**
 * The pod spec of a workload, or undefined when the type is not a workload or declares no pod
 * spec (nothing to judge).
 */
export function podSpecOf(type: string, props: Record<string, unknown>): PodSpec | undefined {
    const path = POD_TEMPLATE_PATHS[type];
    if (!path) return undefined;
    let node: unknown = props;
    for (const key of path) node = isRecord(node) ? node[key] : undefined;
    const spec = isRecord(node) ? node.spec : undefined;
    return isRecord(spec) ? (spec as PodSpec) : undefined;
}

/** Every container of a pod spec (init containers first), each with a label for messages. */
export function containersOf(spec: PodSpec): { label: string; container: Container }[] {
    const init = (spec.initContainers ?? []).map((c, i) => ({ label: `init container "${c.name ?? i}"`, container: c }));
    const main = (spec.containers ?? []).map((c, i) => ({ label: `container "${c.name ?? i}"`, container: c }));
    return [...init, ...main];
}

/** The kind of an object from its type token (`kubernetes:apps/v1:Deployment` -> `Deployment`). */
export function kindOf(type: string): string {
    return type.slice(type.lastIndexOf(":") + 1);
}

/** Namespace of an object; Kubernetes puts objects without one in `default`. */
export function namespaceOf(obj: { metadata?: ObjectMeta }): string {
    return obj.metadata?.namespace ?? "default";
}

/**
 * How messages name a Kubernetes object: `Deployment kubeforge/backend`, falling back to the
 * Pulumi logical name when the object has no explicit `metadata.name`.
 */
export function describeObject(type: string, props: { metadata?: ObjectMeta }, logicalName: string): string {
    const name = props.metadata?.name ?? logicalName;
    return `${kindOf(type)} ${namespaceOf(props)}/${name}`;
}

/** Whether a label selector selects a set of labels. An empty selector selects everything. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
    if (selector === undefined) return false;
    for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
        if (labels[key] !== value) return false;
    }
    for (const req of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(labels, req.key);
        const value = labels[req.key];
        const inValues = value !== undefined && (req.values ?? []).includes(value);
        const ok =
            req.operator === "In" ? inValues :
            req.operator === "NotIn" ? !inValues :
            req.operator === "Exists" ? has :
            !has;
        if (!ok) return false;
    }
    return true;
}

/**
 * The number of pods an int-or-percent value stands for out of `total`, rounded up as the
 * disruption controller does; undefined for a value that is neither.
 */
export function scaledCount(value: number | string, total: number): number | undefined {
    if (typeof value === "number") return value;
    const m = /^([0-9]+)%$/.exec(value);
    return m ? Math.ceil((Number(m[1]) * total) / 100) : undefined;
}

/** A JSON object (not an array, not null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Labels as a kubectl selector (`a=1,b=2`), sorted so that messages do not depend on key order. */
export function labelSelectorText(labels: Record<string, string>): string {
    return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join(",");
}
