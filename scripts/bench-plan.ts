/**
 * `npm run bench:plan`: how long the autoscaling preview takes for one hour at one-second steps
 * and 30 services (the target: under a second on a 2-core machine). The services are shaped like
 * the project's (100m, 256Mi, HPA 3..10 on CPU 70 % and memory 80 %, the project's behavior,
 * zone spread) on three m6i.large node groups of up to 20 nodes each; each gets its own spike.
 * Prints the best and median of BENCH_RUNS runs (default 5).
 */
import { hpaBehavior } from "../components/microservice";
import { type CapacityModel, eksNodeShape, instanceType } from "./plan/capacity";
import type { Behavior } from "./plan/hpa";
import { ratePerSecond } from "./plan/load";
import { EKS_ADDON_PODS } from "./plan/platform-pods";
import { DEFAULT_SIM, simulate, type SimService } from "./plan/simulate";

const SERVICES = 30;
const DURATION = 3600;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MI = 2 ** 20;

const model: CapacityModel = {
    flavour: "eks",
    services: [],
    platform: [{ name: "coredns", replicas: 2, requests: { cpu: 100, memory: 70 * MI }, source: "bench" }],
    daemonSets: [EKS_ADDON_PODS["vpc-cni"]?.daemonSet, EKS_ADDON_PODS["kube-proxy"]?.daemonSet].flatMap((d) => (d ? [d] : [])),
    controlPlane: [],
    nodeGroups: ["a", "b", "c"].map((z, i) => ({ name: `ng-${i}`, zone: `eu-west-1${z}`, minSize: 2, maxSize: 20, shape: eksNodeShape(instanceType("m6i.large")), instanceTypes: ["m6i.large"] })),
};

const services: SimService[] = Array.from({ length: SERVICES }, (_, i) => ({
    name: `svc-${i}`,
    requests: { cpu: 100, memory: 256 * MI },
    hpa: { minReplicas: 3, maxReplicas: 10, metrics: [{ resource: "cpu", averageUtilization: 70 }, { resource: "memory", averageUtilization: 80 }], behavior: hpaBehavior() as Behavior },
    zoneSpread: true,
    startupProbe: { initialDelaySeconds: 0, periodSeconds: 2, successThreshold: 1, failureThreshold: 30 },
    readinessProbe: { initialDelaySeconds: 0, periodSeconds: 5, successThreshold: 1, failureThreshold: 2 },
    preStopSeconds: 40,
    cost: { cpuPerRequest: 0.5 + (i % 5) * 0.3, idleCpu: 4, memory: 140 * MI, maxCpu: 1000, startSeconds: 0.5 },
    rps: ratePerSecond([{ at: 0, rps: 50 }, { at: 120 + i * 60, rps: 300 + (i % 7) * 100 }, { at: 1800 + i * 30, rps: 50 }], DURATION, "step"),
}));

const times: number[] = [];
let last: ReturnType<typeof simulate> | undefined;
for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    last = simulate(model, services, { ...DEFAULT_SIM, duration: DURATION });
    times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const peakNodes = Math.max(...(last?.cluster.map((c) => c.nodes) ?? [0]));
const peakPods = Math.max(...(last?.cluster.map((_, t) => last?.services.reduce((n, s) => n + (s.series[t]?.readyReplicas ?? 0), 0) ?? 0) ?? [0]));
console.log(`plan preview: ${SERVICES} services x ${DURATION} one-second steps (peak ${peakPods} ready pods on ${peakNodes} nodes), node ${process.version}`);
console.log(`best ${times[0]?.toFixed(0)} ms, median ${times[Math.floor(times.length / 2)]?.toFixed(0)} ms over ${RUNS} runs (target: under 1000 ms)`);
if ((times[Math.floor(times.length / 2)] ?? Infinity) >= 1000) process.exitCode = 1;
