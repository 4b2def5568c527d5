/**
 * What the program would deploy, read from a run of the real program under mocks (the resources
 * `npm run synth` writes): each service's Deployment (requests, probes, preStop, zone spread) and
 * its HPA (min, max, targets, behavior); other Deployments and StatefulSets as platform pods; the
 * Helm releases, EKS add-ons and node groups; on kind, its worker count. What the program does not
 * declare (add-on and system pods) comes from ./platform-pods.ts.
 */
import { isPlainObject, type Settings } from "../../components/config";
import type { RecordedResource } from "../mocks";
import { type CapacityModel, type DockerHost, kindNodeShape, type NodeGroupModel, nodeGroupShape, type ServiceCapacity } from "./capacity";
import type { Behavior, HpaSpec, UtilizationMetric } from "./hpa";
import { EKS_ADDON_PODS, helmReleasePods, KIND_SYSTEM_PODS, type PodTemplate, type ReplicatedPods, requestsOf, type Resources } from "./platform-pods";

/** A probe's timing (`SetDefaults_Probe`, pkg/apis/core/v1/defaults.go: period 10, success 1, failure 3, no initial delay). */
export interface ProbeTiming {
    initialDelaySeconds: number;
    periodSeconds: number;
    successThreshold: number;
    failureThreshold: number;
}

/** A service: its Deployment and the HPA that targets it. */
export interface DeclaredService extends ServiceCapacity {
    hpa: HpaSpec;
    startupProbe?: ProbeTiming;
    readinessProbe?: ProbeTiming;
    /** The container's `lifecycle.preStop.sleep.seconds`: how long a deleted pod keeps its node. */
    preStopSeconds: number;
    /** The container's CPU limit in millicores, if any. */
    cpuLimit?: number;
}

/** The stack as the plan sees it. */
export interface DeclaredStack {
    services: DeclaredService[];
    /** Everything but the Docker host (kind) for capacity. */
    capacity: Omit<CapacityModel, "host">;
    /** What the plan could not count, one line each. */
    notes: string[];
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (isPlainObject(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown, fallback: number): number => (typeof v === "number" ? v : fallback);

function probe(v: unknown): ProbeTiming | undefined {
    if (!isPlainObject(v)) return undefined;
    return { initialDelaySeconds: num(v.initialDelaySeconds, 0), periodSeconds: num(v.periodSeconds, 10), successThreshold: num(v.successThreshold, 1), failureThreshold: num(v.failureThreshold, 3) };
}

/** Sum of the containers' requests (restartable init containers included, as `calculateRequests` does). */
function podRequests(podSpec: Json): Resources {
    const containers = [...arr(podSpec.containers), ...arr(podSpec.initContainers).filter((c) => obj(c).restartPolicy === "Always")];
    return containers.reduce<Resources>((sum, c) => {
        const r = requestsOf(obj(c).resources);
        return { cpu: sum.cpu + (r.cpu ?? 0), memory: sum.memory + (r.memory ?? 0) };
    }, { cpu: 0, memory: 0 });
}

function hasZoneSpread(podSpec: Json): boolean {
    return arr(podSpec.topologySpreadConstraints).some((c) => obj(c).topologyKey === "topology.kubernetes.io/zone" && obj(c).whenUnsatisfiable === "DoNotSchedule");
}

/** A `tolerance` Quantity (`"50m"`, `"0.05"`) as a fraction. */
function fraction(q: unknown): number | undefined {
    if (typeof q === "number") return q;
    const m = typeof q === "string" ? /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(q) : null;
    return m ? Number(m[1]) / (m[2] === "m" ? 1000 : 1) : undefined;
}

/** The declared behavior, its tolerances (Quantities in the API) as numbers. */
function behaviorOf(b: Json): Behavior {
    const rules = (r: unknown) => (isPlainObject(r) ? { ...(r as NonNullable<Behavior["scaleUp"]>), tolerance: fraction(r.tolerance) } : undefined);
    return { scaleUp: rules(b.scaleUp), scaleDown: rules(b.scaleDown) };
}

function hpaSpec(hpa: Json): HpaSpec {
    const spec = obj(hpa.spec);
    const metrics: UtilizationMetric[] = arr(spec.metrics).flatMap((m) => {
        const resource = obj(obj(m).resource);
        const target = obj(resource.target);
        if (obj(m).type !== "Resource" || target.type !== "Utilization" || (resource.name !== "cpu" && resource.name !== "memory")) return [];
        return [{ resource: resource.name, averageUtilization: num(target.averageUtilization, 100) }];
    });
    const behavior = isPlainObject(spec.behavior) ? behaviorOf(spec.behavior) : undefined;
    return { minReplicas: num(spec.minReplicas, 1), maxReplicas: num(spec.maxReplicas, 1), metrics, behavior };
}

const isKind = (r: RecordedResource, kind: string) => r.type.startsWith("kubernetes:") && r.type.endsWith(`:${kind}`);

/** The availability zone of a node group's subnet (the mocks give a subnet the id `<name>-id`). */
function zoneOf(nodeGroup: RecordedResource, resources: readonly RecordedResource[], index: number): string {
    const subnetId = String(arr(nodeGroup.inputs.subnetIds)[0] ?? "");
    const subnet = resources.find((r) => r.type === "aws:ec2/subnet:Subnet" && `${r.name}-id` === subnetId);
    const az = subnet?.inputs.availabilityZone;
    return typeof az === "string" ? az : `zone-${index + 1}`;
}

/** Read the stack from a program run. */
export function declaredStack(resources: readonly RecordedResource[], settings: Settings): DeclaredStack {
    const notes: string[] = [];
    const hpas = resources.filter((r) => isKind(r, "HorizontalPodAutoscaler")).map((r) => r.inputs);
    const targetOf = (name: string) => hpas.find((h) => obj(obj(h.spec).scaleTargetRef).name === name);

    const services: DeclaredService[] = [];
    const platform: ReplicatedPods[] = [];
    for (const r of resources.filter((x) => isKind(x, "Deployment") || isKind(x, "StatefulSet"))) {
        const name = String(obj(r.inputs.metadata).name ?? r.name);
        const spec = obj(r.inputs.spec);
        const podSpec = obj(obj(spec.template).spec);
        const requests = podRequests(podSpec);
        const hpa = isKind(r, "Deployment") ? targetOf(name) : undefined;
        if (hpa === undefined) {
            platform.push({ name, replicas: num(spec.replicas, 1), requests, source: `declared by the program (${r.type.split(":").pop()} ${name})` });
            continue;
        }
        const container = obj(arr(podSpec.containers)[0]);
        const limit = requestsOf({ requests: obj(obj(container.resources).limits) }).cpu;
        const h = hpaSpec(hpa);
        services.push({
            name,
            requests,
            minReplicas: h.minReplicas ?? 1,
            maxReplicas: h.maxReplicas,
            zoneSpread: hasZoneSpread(podSpec),
            hpa: h,
            startupProbe: probe(container.startupProbe),
            readinessProbe: probe(container.readinessProbe),
            preStopSeconds: num(obj(obj(obj(container.lifecycle).preStop).sleep).seconds, 0),
            cpuLimit: limit,
        });
    }

    for (const r of resources.filter((x) => x.type === "kubernetes:helm.sh/v3:Release")) {
        const chart = String(r.inputs.chart ?? "");
        const pods = helmReleasePods(chart, r.inputs.values);
        if (pods) platform.push(pods);
        else notes.push(`Helm chart ${chart} (release ${r.name}) is not in the plan's table (scripts/plan/platform-pods.ts); its pods are not counted`);
    }

    // In the stack's order (backend, messages, reports, then the others), not registration order.
    const order = settings.services.map((s) => s.name);
    services.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));

    const daemonSets: PodTemplate[] = [];
    const controlPlane: PodTemplate[] = [];
    const nodeGroups: NodeGroupModel[] = [];
    const flavour = settings.cluster.flavour;
    if (flavour === "eks") {
        for (const r of resources.filter((x) => x.type === "aws:eks/addon:Addon")) {
            const addon = String(r.inputs.addonName ?? "");
            const pods = EKS_ADDON_PODS[addon];
            if (pods?.daemonSet) daemonSets.push(pods.daemonSet);
            if (pods?.deployment) platform.push(pods.deployment);
            if (!pods) notes.push(`EKS add-on ${addon} is not in the plan's table; its pods are not counted`);
        }
        resources.filter((x) => x.type === "aws:eks/nodeGroup:NodeGroup").forEach((r, i) => {
            const scaling = obj(r.inputs.scalingConfig);
            const instanceTypes = arr(r.inputs.instanceTypes).map(String);
            nodeGroups.push({ name: r.name, zone: zoneOf(r, resources, i), minSize: num(scaling.minSize, 0), maxSize: num(scaling.maxSize, 0), shape: nodeGroupShape(instanceTypes), instanceTypes });
        });
    } else if (flavour === "kind") {
        daemonSets.push(...KIND_SYSTEM_PODS.perNode);
        controlPlane.push(...KIND_SYSTEM_PODS.controlPlane);
        platform.push(...KIND_SYSTEM_PODS.cluster);
        const workers = settings.cluster.kind.workers;
        // The shape is filled in with the Docker host's (see kindCapacity).
        nodeGroups.push({ name: "kind-worker", zone: "", minSize: workers, maxSize: workers, shape: { allocatable: { cpu: 0, memory: 0 }, pods: 0 }, instanceTypes: [] });
    }
    return { services, capacity: { flavour, services, platform, daemonSets, controlPlane, nodeGroups }, notes };
}

/** The capacity model with kind's Docker host filled in (every worker reports the whole host). */
export function withHost(capacity: DeclaredStack["capacity"], host: DockerHost | undefined): CapacityModel {
    if (capacity.flavour !== "kind" || host === undefined) return { ...capacity };
    const shape = kindNodeShape(host);
    return { ...capacity, host, nodeGroups: capacity.nodeGroups.map((g) => ({ ...g, shape })) };
}
