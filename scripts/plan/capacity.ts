/**
 * Node capacity and pod placement for `npm run plan`: what an EKS AL2023 node or a kind node can
 * hold, a small model of kube-scheduler's filters (requests, pod slots, the control-plane taint,
 * the services' hard zone spread), the Cluster Autoscaler's "add a node where a pending pod would
 * fit", and the capacity verdicts at the services' HPA min and max. Pure.
 */
import instanceTable from "./instance-types.json";
import type { PodTemplate, ReplicatedPods, Resources } from "./platform-pods";

/** A bad input to the plan (stack, flags, load file): one line, exit 2. */
export class PlanInputError extends Error {
    override name = "PlanInputError";
}

const MI = 2 ** 20;

/** One EC2 instance type, from scripts/plan/instance-types.json (see its `_source`). */
export interface InstanceType {
    vcpu: number;
    memoryMiB: number;
    architecture: string;
    defaultMaxENIs: number;
    ipv4AddressesPerInterface: number;
}

const TYPES = instanceTable.types as Record<string, InstanceType>;

/** Instance types the plan knows. */
export const SUPPORTED_INSTANCE_TYPES: readonly string[] = Object.keys(TYPES);

/** An instance type from the table; a {@link PlanInputError} naming the key and the supported types otherwise. */
export function instanceType(name: string, key = "kubeforge:cluster.eks.nodes.instanceTypes"): InstanceType {
    const t = TYPES[name];
    if (t === undefined) throw new PlanInputError(`${key}: ${JSON.stringify(name)} is not an instance type the plan knows (supported: ${SUPPORTED_INSTANCE_TYPES.join(", ")}; scripts/plan/instance-types.json)`);
    return t;
}

/**
 * Max pods of an AL2023 node: amazon-eks-ami v20260724 nodeadm/internal/kubelet/eni_max_pods.go
 * `calculateStandardMaxPods` (`DefaultMaxENIs*(Ipv4AddressesPerInterface-1) + 2`), capped as EKS
 * managed node groups cap it without a custom AMI: 110 below 30 vCPUs, 250 above
 * (awsdocs/amazon-eks-user-guide choosing-instance-type.adoc). No prefix delegation (the
 * program leaves ENABLE_PREFIX_DELEGATION off).
 */
export function eksMaxPods(t: InstanceType): number {
    const eni = t.defaultMaxENIs * (t.ipv4AddressesPerInterface - 1) + 2;
    return Math.min(eni, t.vcpu > 30 ? 250 : 110);
}

/** nodeadm/internal/kubelet/config.go `getCPUMillicoresToReserve`: 6 % of the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % above (integer arithmetic per range). */
export function eksKubeReservedCpu(totalMillicores: number): number {
    const ranges = [0, 1000, 2000, 4000, totalMillicores];
    const percentages = [600, 100, 50, 25];
    let reserved = 0;
    percentages.forEach((percentage, i) => {
        const start = ranges[i] ?? 0;
        const end = ranges[i + 1] ?? 0;
        if (totalMillicores <= start) return;
        reserved += Math.trunc(((Math.min(totalMillicores, end) - start) * percentage) / 10000);
    });
    return reserved;
}

/** nodeadm/internal/kubelet/config.go `getMemoryMebibytesToReserve`: 11 MiB per pod + 255 MiB. */
export function eksKubeReservedMemoryMi(maxPods: number): number {
    return 11 * maxPods + 255;
}

/** nodeadm/internal/kubelet/config.go `EvictionHard` `memory.available: 100Mi` (no systemReserved amounts). */
export const EKS_EVICTION_MEMORY_MI = 100;

/** What the scheduler may place on one node. */
export interface NodeShape {
    allocatable: Resources;
    pods: number;
}

/**
 * Allocatable of an AL2023 node (capacity - kubeReserved - systemReserved (none) - hard eviction),
 * with the EC2 memory as capacity: the kubelet's MemTotal is somewhat lower, unknown per type.
 */
export function eksNodeShape(t: InstanceType): NodeShape {
    const pods = eksMaxPods(t);
    const cpu = t.vcpu * 1000;
    return {
        allocatable: { cpu: cpu - eksKubeReservedCpu(cpu), memory: (t.memoryMiB - eksKubeReservedMemoryMi(pods) - EKS_EVICTION_MEMORY_MI) * MI },
        pods,
    };
}

/** A node group of several instance types, planned with the smallest of them in each dimension (the Cluster Autoscaler may get any). */
export function nodeGroupShape(instanceTypes: readonly string[]): NodeShape {
    const shapes = instanceTypes.map((t) => eksNodeShape(instanceType(t)));
    return {
        allocatable: { cpu: Math.min(...shapes.map((s) => s.allocatable.cpu)), memory: Math.min(...shapes.map((s) => s.allocatable.memory)) },
        pods: Math.min(...shapes.map((s) => s.pods)),
    };
}

/** The Docker host kind's nodes run on. */
export interface DockerHost {
    cpus: number;
    memoryBytes: number;
    /** Where the figures come from (`docker info`, flags, this machine). */
    source: string;
}

/** kubelet's default `maxPods` (kind sets none). */
export const KUBELET_DEFAULT_MAX_PODS = 110;

/**
 * A kind node: each kubelet reports the whole Docker host (no kube/system reserves; kind's
 * evictionHard only sets nodefs/imagefs thresholds, kubernetes-sigs/kind v0.32.0
 * pkg/cluster/internal/kubeadm/config.go), so the nodes together over-count the host.
 */
export function kindNodeShape(host: DockerHost): NodeShape {
    return { allocatable: { cpu: host.cpus * 1000, memory: host.memoryBytes }, pods: KUBELET_DEFAULT_MAX_PODS };
}

// ---------------------------------------------------------------------------------------------
// Placement
// ---------------------------------------------------------------------------------------------

/** A pod to place. */
export interface PodToPlace {
    /** The workload it belongs to (a service name, or a platform pod's name). */
    owner: string;
    requests: Resources;
    /** Hard spread over `topology.kubernetes.io/zone`, maxSkew 1 (components/microservice.ts topologySpread on EKS). */
    zoneSpread: boolean;
    toleratesControlPlane: boolean;
}

/** A node in the model. */
export interface SimNode {
    name: string;
    /** Node group, or `control-plane`. */
    group: string;
    zone: string;
    shape: NodeShape;
    used: Resources;
    podCount: number;
    /** kind's control-plane node, tainted NoSchedule when there are workers. */
    controlPlane: boolean;
    /** Scheduled pods per owner. */
    byOwner: Map<string, number>;
}

/** A node group: kind's workers are one group without zones. */
export interface NodeGroupModel {
    name: string;
    zone: string;
    minSize: number;
    maxSize: number;
    shape: NodeShape;
    instanceTypes: string[];
}

export function newNode(group: NodeGroupModel | { name: string; zone: string; shape: NodeShape }, index: number, daemonSets: readonly PodTemplate[], controlPlane = false): SimNode {
    const node: SimNode = { name: `${group.name}-${index}`, group: group.name, zone: group.zone, shape: group.shape, used: { cpu: 0, memory: 0 }, podCount: 0, controlPlane, byOwner: new Map() };
    for (const ds of daemonSets) bind(node, { owner: ds.name, requests: ds.requests, zoneSpread: false, toleratesControlPlane: true });
    return node;
}

/** NodeResourcesFit and the pod-count limit. */
export function fitsResources(node: SimNode, pod: PodToPlace): boolean {
    return node.podCount + 1 <= node.shape.pods
        && node.used.cpu + pod.requests.cpu <= node.shape.allocatable.cpu
        && node.used.memory + pod.requests.memory <= node.shape.allocatable.memory;
}

function eligible(node: SimNode, pod: PodToPlace): boolean {
    return !node.controlPlane || pod.toleratesControlPlane;
}

/**
 * Zones the pod may go to under its hard spread: PodTopologySpread's filter, `matchNum(zone) + 1 -
 * minMatchNum <= maxSkew (1)`, over the zones of the nodes it could run on (nodeAffinityPolicy and
 * nodeTaintsPolicy Honor).
 */
export function allowedZones(nodes: readonly SimNode[], pod: PodToPlace): Set<string> {
    const counts = new Map<string, number>();
    for (const n of nodes) {
        if (!eligible(n, pod)) continue;
        counts.set(n.zone, (counts.get(n.zone) ?? 0) + (n.byOwner.get(pod.owner) ?? 0));
    }
    if (!pod.zoneSpread) return new Set(counts.keys());
    const min = Math.min(...counts.values());
    return new Set([...counts].filter(([, c]) => c + 1 - min <= 1).map(([z]) => z));
}

/**
 * The node kube-scheduler would pick: feasible (filters above), then scored by fewest pods of the
 * same owner (the services' soft spread over `kubernetes.io/hostname`) and least requested CPU
 * (NodeResourcesFit LeastAllocated). An approximation of the default scoring; the filters are exact.
 */
export function pickNode(nodes: readonly SimNode[], pod: PodToPlace): SimNode | undefined {
    const zones = allowedZones(nodes, pod);
    let best: SimNode | undefined;
    let bestScore = Infinity;
    for (const n of nodes) {
        if (!eligible(n, pod) || !zones.has(n.zone) || !fitsResources(n, pod)) continue;
        const score = (n.byOwner.get(pod.owner) ?? 0) * 1e6 + (n.used.cpu + pod.requests.cpu) / n.shape.allocatable.cpu;
        if (score < bestScore) {
            best = n;
            bestScore = score;
        }
    }
    return best;
}

export function bind(node: SimNode, pod: PodToPlace): void {
    node.used.cpu += pod.requests.cpu;
    node.used.memory += pod.requests.memory;
    node.podCount++;
    node.byOwner.set(pod.owner, (node.byOwner.get(pod.owner) ?? 0) + 1);
}

export function unbind(node: SimNode, pod: PodToPlace): void {
    node.used.cpu -= pod.requests.cpu;
    node.used.memory -= pod.requests.memory;
    node.podCount--;
    node.byOwner.set(pod.owner, (node.byOwner.get(pod.owner) ?? 1) - 1);
}

/** Why a pod finds no node: the hard zone spread, or the resource no node has enough of. */
export function pendingReason(nodes: readonly SimNode[], pod: PodToPlace): string {
    const candidates = nodes.filter((n) => eligible(n, pod));
    if (candidates.some((n) => fitsResources(n, pod))) return "the hard zone spread (maxSkew 1) allows only zones without room";
    if (candidates.every((n) => n.podCount + 1 > n.shape.pods)) return `no pod slot is left (maxPods ${candidates[0]?.shape.pods ?? 0} per node)`;
    if (candidates.every((n) => n.used.cpu + pod.requests.cpu > n.shape.allocatable.cpu)) return `no node has ${pod.requests.cpu}m CPU unrequested (${candidates[0]?.shape.allocatable.cpu ?? 0}m allocatable per node)`;
    return `no node has ${Math.round(pod.requests.memory / MI)}Mi memory unrequested`;
}

// ---------------------------------------------------------------------------------------------
// The cluster as the plan sees it
// ---------------------------------------------------------------------------------------------

/** A service as the program declares it (Deployment + HPA), for capacity. */
export interface ServiceCapacity {
    name: string;
    requests: Resources;
    minReplicas: number;
    maxReplicas: number;
    zoneSpread: boolean;
}

/** Everything capacity depends on. */
export interface CapacityModel {
    flavour: "eks" | "kind" | "existing";
    services: ServiceCapacity[];
    /** Cluster-wide platform pods (add-ons, controllers, other Deployments/StatefulSets). */
    platform: ReplicatedPods[];
    /** A pod per node. */
    daemonSets: PodTemplate[];
    /** kind: static pods of the control-plane node. */
    controlPlane: PodTemplate[];
    /** EKS: one per zone; kind: the workers. Empty for `existing`. */
    nodeGroups: NodeGroupModel[];
    /** kind: the Docker host, shared by every node. */
    host?: DockerHost;
}

/** Pods of a workload as {@link PodToPlace}. */
export function podOf(owner: string, requests: Resources, zoneSpread: boolean, toleratesControlPlane = false): PodToPlace {
    return { owner, requests, zoneSpread, toleratesControlPlane };
}

/** Every replica of the platform's pods, to place before the services'. */
export function platformPods(model: CapacityModel): PodToPlace[] {
    return model.platform.flatMap((p) => Array.from({ length: p.replicas }, () => podOf(p.name, p.requests, false, p.toleratesControlPlane ?? false)));
}

/** A cluster at the given node counts per group (kind gets its control-plane node too). */
export function buildNodes(model: CapacityModel, counts: ReadonlyMap<string, number>): SimNode[] {
    const nodes: SimNode[] = [];
    if (model.flavour === "kind" && model.host) {
        const cp = newNode({ name: "control-plane", zone: "", shape: kindNodeShape(model.host) }, 0, model.daemonSets, true);
        for (const p of model.controlPlane) bind(cp, podOf(p.name, p.requests, false, true));
        nodes.push(cp);
    }
    for (const g of model.nodeGroups) {
        for (let i = 0; i < (counts.get(g.name) ?? g.minSize); i++) nodes.push(newNode(g, i, model.daemonSets));
    }
    return nodes;
}

/**
 * Add a node to the group the Cluster Autoscaler would grow for `pod`: the smallest group
 * (balance-similar-node-groups) whose new node lets the pod schedule, below its maxSize. Returns
 * the new node, or undefined when no group can take it. EKS only: kind has no node autoscaler.
 */
export function growFor(model: CapacityModel, nodes: SimNode[], counts: Map<string, number>, pod: PodToPlace): SimNode | undefined {
    if (model.flavour !== "eks") return undefined;
    const groups = [...model.nodeGroups].sort((a, b) => (counts.get(a.name) ?? 0) - (counts.get(b.name) ?? 0));
    for (const g of groups) {
        const count = counts.get(g.name) ?? 0;
        if (count >= g.maxSize) continue;
        const node = newNode(g, count, model.daemonSets);
        nodes.push(node);
        if (pickNode(nodes, pod) === node) {
            counts.set(g.name, count + 1);
            return node;
        }
        nodes.pop();
    }
    return undefined;
}

/** The outcome of placing every pod of a scenario. */
export interface ScenarioResult {
    scenario: "min" | "max";
    nodes: SimNode[];
    /** Nodes per group at the end (after the autoscaler grew them). */
    counts: Map<string, number>;
    wanted: Map<string, number>;
    placed: Map<string, number>;
    /** Why the first pending pod of each owner found no node. */
    reasons: Map<string, string>;
}

/**
 * Place the platform pods, then the services' pods at their HPA min (or max) one service at a
 * time round-robin, growing node groups from minSize up to maxSize where a pending pod needs it.
 */
export function placeScenario(model: CapacityModel, scenario: "min" | "max"): ScenarioResult {
    const counts = new Map(model.nodeGroups.map((g) => [g.name, g.minSize]));
    const nodes = buildNodes(model, counts);
    const queue = platformPods(model);
    const target = (s: ServiceCapacity) => (scenario === "min" ? s.minReplicas : s.maxReplicas);
    const most = Math.max(0, ...model.services.map(target));
    for (let i = 0; i < most; i++) {
        for (const s of model.services) if (i < target(s)) queue.push(podOf(s.name, s.requests, s.zoneSpread));
    }
    const wanted = new Map<string, number>();
    const placed = new Map<string, number>();
    const reasons = new Map<string, string>();
    for (const pod of queue) {
        wanted.set(pod.owner, (wanted.get(pod.owner) ?? 0) + 1);
        const node = pickNode(nodes, pod) ?? growFor(model, nodes, counts, pod);
        if (node) {
            bind(node, pod);
            placed.set(pod.owner, (placed.get(pod.owner) ?? 0) + 1);
        } else if (!reasons.has(pod.owner)) {
            reasons.set(pod.owner, pendingReason(nodes, pod));
        }
    }
    return { scenario, nodes, counts, wanted, placed, reasons };
}

/** Sum of requests over every pod on the nodes. */
export function requestedOn(nodes: readonly SimNode[]): Resources {
    return nodes.reduce((sum, n) => ({ cpu: sum.cpu + n.used.cpu, memory: sum.memory + n.used.memory }), { cpu: 0, memory: 0 });
}

/** The capacity verdicts: one line each, and whether the stack fits at both min and max. */
export interface CapacityVerdict {
    lines: string[];
    fits: boolean;
    scenarios: ScenarioResult[];
}

function plural(n: number, one: string, many = `${one}s`): string {
    return `${n} ${n === 1 ? one : many}`;
}

function gib(bytes: number): string {
    return `${(bytes / 2 ** 30).toFixed(1)}Gi`;
}

/** Capacity at the services' HPA min and max, as verdict lines naming each service. */
export function capacityVerdict(model: CapacityModel): CapacityVerdict {
    if (model.flavour === "existing" || model.nodeGroups.length === 0) {
        return { lines: ["capacity: the existing cluster's nodes are not known to the program; only the autoscaling preview is given"], fits: true, scenarios: [] };
    }
    const lines: string[] = [];
    let fits = true;
    const scenarios = (["min", "max"] as const).map((s) => placeScenario(model, s));
    const maxTotal = model.nodeGroups.reduce((n, g) => n + g.maxSize, 0);
    const perZone = model.flavour === "eks" ? ` (${model.nodeGroups.map((g) => g.maxSize).join(" + ")} over ${plural(model.nodeGroups.length, "zone")})` : "";
    for (const r of scenarios) {
        const short = model.services.filter((s) => (r.placed.get(s.name) ?? 0) < (r.wanted.get(s.name) ?? 0));
        const platformShort = model.platform.filter((p) => (r.placed.get(p.name) ?? 0) < (r.wanted.get(p.name) ?? 0));
        for (const s of short) {
            const wanted = r.wanted.get(s.name) ?? 0;
            const placed = r.placed.get(s.name) ?? 0;
            const where = model.flavour === "eks" ? `the node groups' maxSize of ${maxTotal}${perZone}` : `kind's ${plural(maxTotal, "worker")}`;
            const pending = wanted - placed;
            const holds = model.flavour === "eks" ? "holds" : "hold";
            lines.push(`at ${r.scenario}, ${s.name}'s ${pending === 1 ? "last pod stays" : `last ${pending} pods stay`} Pending because ${where} ${placed === 0 ? `${holds} none` : `${holds} only ${placed}`} of its ${wanted} (${r.reasons.get(s.name) ?? "no room"})`);
            fits = false;
        }
        for (const p of platformShort) {
            lines.push(`at ${r.scenario}, ${p.name} (platform) has ${(r.wanted.get(p.name) ?? 0) - (r.placed.get(p.name) ?? 0)} pods Pending (${r.reasons.get(p.name) ?? "no room"})`);
            fits = false;
        }
        const workers = r.nodes.filter((n) => !n.controlPlane);
        const requested = requestedOn(r.nodes);
        if (model.flavour === "kind" && model.host) {
            const hostCpu = model.host.cpus * 1000;
            const over = requested.cpu > hostCpu || requested.memory > model.host.memoryBytes;
            const what = `the pods request ${requested.cpu}m CPU and ${gib(requested.memory)} memory of the Docker host's ${hostCpu}m and ${gib(model.host.memoryBytes)} (${model.host.source})`;
            if (over) {
                lines.push(`at ${r.scenario}, ${what}: kind's ${plural(r.nodes.length, "node")} each report the whole host, so the scheduler places them, but they share its ${plural(model.host.cpus, "CPU")} and get less than they request`);
                fits = false;
            } else if (short.length === 0) {
                lines.push(`at ${r.scenario}, every service fits: ${what}`);
            }
        } else if (short.length === 0 && platformShort.length === 0) {
            const allocatable = workers.reduce((sum, n) => sum + n.shape.allocatable.cpu, 0);
            const counts = model.nodeGroups.map((g) => r.counts.get(g.name) ?? 0);
            lines.push(`at ${r.scenario}, every service fits: ${model.services.map((s) => `${r.placed.get(s.name) ?? 0} ${s.name}`).join(", ")} on ${plural(workers.length, "node")} (${counts.join(" + ")}; maxSize ${maxTotal}), requesting ${requested.cpu}m of ${allocatable}m allocatable CPU`);
        }
    }
    return { lines, fits, scenarios };
}
