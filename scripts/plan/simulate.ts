/**
 * The autoscaling preview: a second-by-second simulation of what the cluster does under a load.
 *
 * Every second: nodes the autoscaler asked for join; deleted pods leave; each HPA syncs on its
 * 15 s period (./hpa.ts, exactly as kube-controller-manager); the ReplicaSet controller creates
 * or deletes pods to match; the scheduler places pending pods (./capacity.ts); the Cluster
 * Autoscaler scans every 10 s and asks for nodes where pending pods would fit (EKS only);
 * traffic is shared evenly by the ready pods and costs CPU (the calibration); nodes short of CPU
 * share it by request (CFS shares); metrics-server scrapes every 15 s and reports each pod's mean
 * CPU between its last two scrapes. Pure and deterministic.
 */
import { bind, buildNodes, type CapacityModel, growFor, newNode, pickNode, platformPods, podOf, type PodToPlace, type SimNode, unbind } from "./capacity";
import type { ProbeTiming } from "./declared";
import { type ControllerConfig, DEFAULT_CONTROLLER, getResourceReplicas, type HpaPod, type HpaSpec, type HpaState, MetricError, type MetricProposal, newHpaState, type PodMetric, reconcileAutoscaler, tolerancesForHpa } from "./hpa";
import type { Resources } from "./platform-pods";

/** What a request costs a service's pod, and what the pod costs at rest (services/calibration.json or the load file). */
export interface ServiceCost {
    /** CPU time per request, in milliseconds of one core (= millicore-seconds). */
    cpuPerRequest: number;
    /** CPU of an idle pod, millicores. */
    idleCpu: number;
    /** Working set of a pod, bytes (what metrics-server reports as memory). */
    memory: number;
    /** Most CPU one pod can use, millicores (one Node.js event loop is about one core). */
    maxCpu: number;
    /** Seconds from the process's start until it answers its readiness path. */
    startSeconds: number;
}

/** A service to simulate. */
export interface SimService {
    name: string;
    requests: Resources;
    hpa: HpaSpec;
    zoneSpread: boolean;
    startupProbe?: ProbeTiming;
    readinessProbe?: ProbeTiming;
    preStopSeconds: number;
    cpuLimit?: number;
    cost: ServiceCost;
    /** Offered requests per second, one entry per simulated second. */
    rps: Float64Array;
}

/** Timings of the simulated cluster. */
export interface SimOptions {
    /** Seconds to simulate. */
    duration: number;
    /** From a pod's scheduling to its container's start: image pull and container creation. */
    podStartSeconds: number;
    /** From the Cluster Autoscaler's decision to the new node being Ready (EC2 launch, boot, join). */
    nodeProvisionSeconds: number;
    /** Cluster Autoscaler `--scan-interval` (cluster-autoscaler-1.35.2 config/const.go DefaultScanInterval: 10 s). */
    scanInterval: number;
    /** metrics-server `--metric-resolution` (chart 3.13.1 values.yaml defaultArgs: 15s). */
    metricResolution: number;
    /** Second (mod the sync period) the HPA controller syncs at; metrics-server scrapes at 0 mod its resolution. Default 5. */
    hpaOffset: number;
    controller: ControllerConfig;
}

export const DEFAULT_SIM: Omit<SimOptions, "duration"> = {
    podStartSeconds: 5,
    nodeProvisionSeconds: 120,
    scanInterval: 10,
    metricResolution: 15,
    hpaOffset: 5,
    controller: DEFAULT_CONTROLLER,
};

/**
 * Seconds from a container's start until its pod is Ready, from its probes (kubelet prober: a
 * worker probes at once and then every `periodSeconds`, none before `initialDelaySeconds`; the
 * readiness probe runs as soon as the startup probe succeeds; `successThreshold` successes in a row).
 */
export function readyDelay(startup: ProbeTiming | undefined, readiness: ProbeTiming | undefined, appReadySeconds: number): number {
    const firstTick = (p: ProbeTiming, from: number) => Math.max(p.initialDelaySeconds, Math.ceil(from / p.periodSeconds) * p.periodSeconds);
    let started = 0;
    if (startup) started = firstTick(startup, Math.max(appReadySeconds, startup.initialDelaySeconds));
    if (!readiness) return Math.max(started, appReadySeconds);
    const first = startup ? Math.max(started, readiness.initialDelaySeconds) : firstTick(readiness, appReadySeconds);
    const firstSuccess = first >= appReadySeconds ? first : firstTick(readiness, appReadySeconds);
    return firstSuccess + (readiness.successThreshold - 1) * readiness.periodSeconds;
}

/**
 * CPU the pods on one CPU pool get when their demand exceeds its capacity: shares in proportion
 * to requests (cgroup cpu.weight from requests), water-filled so a pod never gets more than it asks.
 */
export function shareCpu(demand: readonly number[], weights: readonly number[], capacity: number): number[] {
    const total = demand.reduce((a, b) => a + b, 0);
    if (total <= capacity) return [...demand];
    const w = weights.map((x) => Math.max(x, 2));
    const order = demand.map((_, i) => i).sort((a, b) => (demand[a] ?? 0) / (w[a] ?? 1) - (demand[b] ?? 0) / (w[b] ?? 1));
    const got = new Array<number>(demand.length).fill(0);
    let left = capacity;
    let weightLeft = w.reduce((a, b) => a + b, 0);
    for (const i of order) {
        const fair = (left * (w[i] ?? 0)) / weightLeft;
        got[i] = Math.min(demand[i] ?? 0, fair);
        left -= got[i] ?? 0;
        weightLeft -= w[i] ?? 0;
    }
    return got;
}

/** One second of one service. */
export interface SeriesPoint {
    t: number;
    /** Offered requests per second. */
    rps: number;
    /** Requests per second the ready pods could serve. */
    servedRps: number;
    /** The Deployment's replicas, as the HPA last set them. */
    desiredReplicas: number;
    readyReplicas: number;
    /** Pods with no node. */
    pendingPods: number;
    /** The HPA's CPU utilization (percent of request) at its last sync; null before it had one. */
    cpuUtilization: number | null;
}

/** The preview of one service. */
export interface ServiceResult {
    name: string;
    minReplicas: number;
    maxReplicas: number;
    cpuTarget: number | null;
    series: SeriesPoint[];
}

/** One second of the cluster. */
export interface ClusterPoint {
    t: number;
    /** Ready worker nodes. */
    nodes: number;
    /** Nodes asked for and not yet Ready. */
    provisioningNodes: number;
}

export interface SimResult {
    services: ServiceResult[];
    cluster: ClusterPoint[];
}

interface Pod {
    name: string;
    service: number;
    place: PodToPlace;
    node?: SimNode;
    scheduledAt?: number;
    runningAt?: number;
    readyAt?: number;
    goneAt?: number;
    deleting: boolean;
    cumulativeCpu: number;
    /** metrics-server's last two scrapes of this pod: [time, cumulative CPU]. */
    scrapes: [number, number][];
    /** This second: whether its container runs, whether it is ready (and not deleting), the CPU it asks for and then gets (millicores). */
    running: boolean;
    ready: boolean;
    demand: number;
}

/** Seconds of warm-up before t = 0: the services run at min, at the load of t = 0, so metrics exist when the first HPA sync comes. */
const WARM_UP = 30;

/** Run the preview. */
export function simulate(model: CapacityModel, services: readonly SimService[], opts: SimOptions): SimResult {
    const o = opts;
    const counts = new Map(model.nodeGroups.map((g) => [g.name, g.minSize]));
    const nodes = buildNodes(model, counts);
    for (const pod of platformPods(model)) {
        const node = pickNode(nodes, pod) ?? growFor(model, nodes, counts, pod);
        if (node) bind(node, pod);
    }
    const provisioning: { node: SimNode; readyAt: number }[] = [];

    const pods: Pod[][] = services.map(() => []);
    const spec = services.map((s) => s.hpa.minReplicas ?? 1);
    const hpaState: HpaState[] = services.map(() => newHpaState());
    const lastCpuUtil: (number | null)[] = services.map(() => null);
    const readyAfter = services.map((s) => readyDelay(s.startupProbe, s.readinessProbe, s.cost.startSeconds));
    let serial = 0;

    const newPod = (i: number, started: boolean): Pod => {
        const s = services[i] as SimService;
        const pod: Pod = { name: `${s.name}-${serial++}`, service: i, place: podOf(s.name, s.requests, s.zoneSpread), deleting: false, cumulativeCpu: 0, scrapes: [], running: false, ready: false, demand: 0 };
        pods[i]?.push(pod);
        if (started) {
            // A pod of the steady state before the preview: running and ready long ago.
            const node = pickNode(nodes, pod.place) ?? growFor(model, nodes, counts, pod.place);
            if (node) {
                bind(node, pod.place);
                Object.assign(pod, { node, scheduledAt: -3600, runningAt: -3600, readyAt: -3600 });
            }
        }
        return pod;
    };
    services.forEach((_, i) => {
        for (let k = 0; k < (spec[i] ?? 1); k++) newPod(i, true);
    });

    const schedule = (pod: Pod, t: number) => {
        const node = pickNode(nodes, pod.place);
        if (!node) return;
        bind(node, pod.place);
        pod.node = node;
        pod.scheduledAt = t;
        pod.runningAt = t + o.podStartSeconds;
        pod.readyAt = pod.runningAt + (readyAfter[pod.service] ?? 0);
    };

    const out: ServiceResult[] = services.map((s) => ({
        name: s.name,
        minReplicas: s.hpa.minReplicas ?? 1,
        maxReplicas: s.hpa.maxReplicas,
        cpuTarget: s.hpa.metrics.find((m) => m.resource === "cpu")?.averageUtilization ?? null,
        series: [],
    }));
    const cluster: ClusterPoint[] = [];
    const kindHost = model.flavour === "kind" && model.host ? model.host.cpus * 1000 : undefined;

    for (let t = -WARM_UP; t < o.duration; t++) {
        const rpsAt = (s: SimService) => s.rps[Math.max(0, t)] ?? 0;

        // Nodes the autoscaler asked for join when Ready.
        for (let k = provisioning.length - 1; k >= 0; k--) {
            const p = provisioning[k];
            if (p && p.readyAt <= t) {
                nodes.push(p.node);
                provisioning.splice(k, 1);
            }
        }
        // Deleted pods leave their nodes after their preStop pause.
        pods.forEach((list, i) => {
            if (!list.some((pod) => pod.goneAt !== undefined && pod.goneAt <= t)) return;
            pods[i] = list.filter((pod) => {
                if (pod.goneAt === undefined || pod.goneAt > t) return true;
                if (pod.node) unbind(pod.node, pod.place);
                return false;
            });
        });

        // The HPA controller's sync.
        if (t >= 0 && t % o.controller.syncPeriod === o.hpaOffset % o.controller.syncPeriod) {
            services.forEach((s, i) => {
                const list = pods[i] ?? [];
                const hpaPods: HpaPod[] = list.map((p) => ({
                    name: p.name,
                    phase: p.runningAt !== undefined && p.runningAt <= t ? "Running" : "Pending",
                    deleting: p.deleting,
                    ready: p.runningAt !== undefined && p.runningAt <= t ? (p.readyAt !== undefined && p.readyAt <= t ? { status: true, lastTransitionTime: p.readyAt } : { status: false, lastTransitionTime: p.scheduledAt ?? t }) : undefined,
                    startTime: p.scheduledAt,
                    requests: { cpu: s.requests.cpu, memory: s.requests.memory * 1000 },
                }));
                const cpuMetrics = new Map<string, PodMetric>();
                const memMetrics = new Map<string, PodMetric>();
                for (const p of list) {
                    const m = podMetric(p);
                    if (!m) continue;
                    cpuMetrics.set(p.name, m);
                    memMetrics.set(p.name, { value: s.cost.memory * 1000, timestamp: m.timestamp, window: m.window });
                }
                const tolerances = tolerancesForHpa(s.hpa.behavior, o.controller);
                let cpuUtil: number | null = null;
                const proposals = (): MetricProposal[] => s.hpa.metrics.map((metric) => {
                    try {
                        const r = getResourceReplicas({
                            currentReplicas: spec[i] ?? 1, targetUtilization: metric.averageUtilization, resource: metric.resource, tolerances, pods: hpaPods,
                            metrics: metric.resource === "cpu" ? cpuMetrics : memMetrics, cpuInitializationPeriod: o.controller.cpuInitializationPeriod,
                            delayOfInitialReadinessStatus: o.controller.delayOfInitialReadinessStatus, now: t,
                        });
                        if (metric.resource === "cpu") cpuUtil = r.utilization;
                        return { replicas: r.replicaCount, utilization: r.utilization };
                    } catch (e) {
                        if (e instanceof MetricError) return { error: e.message };
                        throw e;
                    }
                });
                spec[i] = reconcileAutoscaler(s.hpa, hpaState[i] as HpaState, spec[i] ?? 1, proposals, t, o.controller).desiredReplicas;
                if (cpuUtil !== null) lastCpuUtil[i] = cpuUtil;
            });
        }

        // The ReplicaSet controller: create or delete pods to match.
        services.forEach((s, i) => {
            const list = pods[i] ?? [];
            const live = list.filter((p) => !p.deleting);
            const want = spec[i] ?? 0;
            for (let k = live.length; k < want; k++) newPod(i, false);
            if (live.length > want) {
                // controller.ActivePods order: unscheduled, then not running, then not ready, then the newest.
                const rank = (p: Pod) => (p.node === undefined ? 0 : p.runningAt === undefined || p.runningAt > t ? 1 : p.readyAt === undefined || p.readyAt > t ? 2 : 3);
                const victims = [...live].sort((a, b) => rank(a) - rank(b) || (b.scheduledAt ?? 0) - (a.scheduledAt ?? 0)).slice(0, live.length - want);
                for (const v of victims) {
                    v.deleting = true;
                    v.goneAt = v.node ? t + s.preStopSeconds : t;
                }
            }
        });

        // The scheduler places pending pods, oldest first.
        for (const list of pods) for (const p of list) if (!p.node && !p.deleting) schedule(p, t);

        // The Cluster Autoscaler: nodes for pods that would fit on a new one (not on one already coming).
        if (model.flavour === "eks" && t % o.scanInterval === 0) {
            const pending = pods.flat().filter((p) => !p.node && !p.deleting);
            if (pending.length > 0) {
                const scratch = [...nodes, ...provisioning.map((p) => p.node)].map(cloneNode);
                const scratchCounts = new Map(counts);
                for (const p of pending) {
                    const fit = pickNode(scratch, p.place);
                    if (fit) {
                        bind(fit, p.place);
                        continue;
                    }
                    const added = growFor(model, scratch, scratchCounts, p.place);
                    if (!added) continue;
                    bind(added, p.place);
                    const group = model.nodeGroups.find((g) => g.name === added.group);
                    if (group) {
                        counts.set(group.name, (counts.get(group.name) ?? 0) + 1);
                        provisioning.push({ node: newNode(group, (counts.get(group.name) ?? 1) - 1, model.daemonSets), readyAt: t + o.nodeProvisionSeconds });
                    }
                }
            }
        }

        // Traffic and CPU: the ready pods share the load evenly; a CPU pool short of CPU is shared by request.
        const served = services.map(() => 0);
        const readyCount = services.map(() => 0);
        const pendingCount = services.map(() => 0);
        const poolSum = new Map<SimNode | "host", number>();
        services.forEach((s, i) => {
            const list = pods[i] ?? [];
            let ready = 0;
            for (const p of list) {
                p.running = p.runningAt !== undefined && p.runningAt <= t && (p.goneAt === undefined || p.goneAt > t);
                p.ready = p.running && !p.deleting && p.readyAt !== undefined && p.readyAt <= t;
                if (p.ready) ready++;
                if (!p.node && !p.deleting) pendingCount[i] = (pendingCount[i] ?? 0) + 1;
            }
            readyCount[i] = ready;
            const share = ready > 0 ? rpsAt(s) / ready : 0;
            const cap = Math.min(s.cost.maxCpu, s.cpuLimit ?? Infinity);
            for (const p of list) {
                if (!p.running || !p.node) continue;
                p.demand = Math.min(cap, s.cost.idleCpu + (p.ready ? share * s.cost.cpuPerRequest : 0));
                const key = kindHost !== undefined ? "host" : p.node;
                poolSum.set(key, (poolSum.get(key) ?? 0) + p.demand);
            }
        });
        const capacityOf = (key: SimNode | "host") => (key === "host" ? (kindHost ?? 0) : key.shape.allocatable.cpu);
        const short = new Map<SimNode | "host", Pod[]>();
        for (const [key, sum] of poolSum) if (sum > capacityOf(key)) short.set(key, []);
        if (short.size > 0) {
            for (const list of pods) for (const p of list) if (p.running && p.node) short.get(kindHost !== undefined ? "host" : p.node)?.push(p);
            for (const [key, list] of short) {
                const got = shareCpu(list.map((p) => p.demand), list.map((p) => p.place.requests.cpu), capacityOf(key));
                list.forEach((p, k) => (p.demand = got[k] ?? 0));
            }
        }
        services.forEach((s, i) => {
            for (const p of pods[i] ?? []) {
                if (!p.running || !p.node) continue;
                p.cumulativeCpu += p.demand;
                if (p.ready && s.cost.cpuPerRequest > 0) served[i] = (served[i] ?? 0) + Math.max(0, p.demand - s.cost.idleCpu) / s.cost.cpuPerRequest;
            }
        });

        // metrics-server scrapes every running pod.
        if (t % o.metricResolution === 0) {
            for (const list of pods) {
                for (const p of list) {
                    if (p.runningAt === undefined || p.runningAt > t) continue;
                    const fresh = t - p.runningAt;
                    // First seen 10-15 s after its start: a synthetic first point at the start, CPU 0.
                    if (p.scrapes.length === 0 && fresh >= 10 && fresh < o.metricResolution) p.scrapes.push([p.runningAt, 0]);
                    p.scrapes.push([t, p.cumulativeCpu]);
                    if (p.scrapes.length > 2) p.scrapes.shift();
                }
            }
        }

        if (t < 0) continue;
        services.forEach((s, i) => {
            const rps = rpsAt(s);
            out[i]?.series.push({
                t,
                rps,
                servedRps: Math.min(rps, served[i] ?? 0),
                desiredReplicas: spec[i] ?? 0,
                readyReplicas: readyCount[i] ?? 0,
                pendingPods: pendingCount[i] ?? 0,
                cpuUtilization: lastCpuUtil[i] ?? null,
            });
        });
        cluster.push({ t, nodes: nodes.filter((n) => !n.controlPlane).length, provisioningNodes: provisioning.length });
    }
    return { services: out, cluster };
}

function cloneNode(n: SimNode): SimNode {
    return { ...n, used: { ...n.used }, byOwner: new Map(n.byOwner) };
}

/**
 * What metrics-server reports for a pod (v0.8.1 pkg/storage/types.go: CPU is the rate between
 * the last two scrapes, as nanocores; the HPA reads `MilliValue()`, which rounds up). A pod is
 * reported once it has two scrapes, or one that came 10-15 s after its start (pkg/storage/pod.go
 * `freshContainerMinMetricsResolution`: a synthetic first point at the start, CPU 0).
 */
function podMetric(p: Pod): PodMetric | undefined {
    const [prev, last] = p.scrapes;
    if (!prev || !last || last[0] <= prev[0]) return undefined;
    const window = last[0] - prev[0];
    const nanocores = Math.floor(((last[1] - prev[1]) / window) * 1e6);
    return { value: Math.ceil(nanocores / 1e6), timestamp: last[0], window };
}
