// The HPA port (scripts/plan/hpa.ts) against Kubernetes' own test cases, transcribed in
// /work/research/hpa-capacity.md §3 from kubernetes/kubernetes
// pkg/controller/podautoscaler/replica_calculator_test.go @5f3bc7cdab9b2544f0389b9a83c88fa15b793b7a
// and horizontal_test.go @4e62298c1bd12c8b9b9c7337aa7fd07a8b9c37a8 (the index's versions; the
// research read the Tolerances-era copies). Each case names the upstream test it comes from;
// cases marked DERIVED have no upstream test and are worked by hand from the ported code.
// Pod figures are pod-level (upstream splits each pod over two containers).
import { describe, expect, it } from "vitest";
import {
    type Behavior,
    calculateScaleDownLimitWithBehaviors,
    calculateScaleUpLimitWithScalingRules,
    type ControllerConfig,
    convertDesiredReplicasWithBehaviorRate,
    convertDesiredReplicasWithRules,
    DEFAULT_CONTROLLER,
    defaultBehavior,
    getResourceReplicas,
    groupPods,
    type HpaPod,
    type HpaSpec,
    type HpaState,
    LONG_AGO,
    type MetricProposal,
    newHpaState,
    type NormalizationArg,
    type PodMetric,
    reconcileAutoscaler,
    type ScalingRules,
    stabilizeRecommendation,
    stabilizeRecommendationWithBehaviors,
    type Tolerances,
} from "../scripts/plan/hpa";

const NOW = 1_000_000;
const MINUTE = 60;
/** replica_calculator.go `defaultTestingCPUInitializationPeriod`, `defaultTestingDelayOfInitialReadinessStatus`. */
const TEST_INIT = 2 * MINUTE;
const TEST_DELAY = 10;
const TOL: Tolerances = { scaleDown: 0.1, scaleUp: 0.1 };
/** horizontal_test.go `hotCPUCreationTime` / `coolCPUCreationTime`. */
const HOT = NOW;
const COOL = NOW - 3 * MINUTE;

interface CalcCase {
    cur: number;
    requests: number[];
    /** Pod usage; undefined = no metric. */
    usage: (number | undefined)[];
    ready?: boolean[];
    start?: number[];
    phase?: HpaPod["phase"][];
    deleting?: boolean[];
    target: number;
    extraMetrics?: number[];
    tolerances?: Tolerances;
}

/** The replica_calculator_test.go harness: Ready with zero LastTransitionTime, zero StartTime, metric at zero time with a 1 min window. */
function calc(c: CalcCase) {
    const pods: HpaPod[] = c.requests.map((request, i) => ({
        name: `pod-${i}`,
        phase: c.phase?.[i] ?? "Running",
        deleting: c.deleting?.[i] ?? false,
        ready: { status: c.ready?.[i] ?? true, lastTransitionTime: LONG_AGO },
        startTime: c.start?.[i] ?? LONG_AGO,
        requests: { cpu: request },
    }));
    const metrics = new Map<string, PodMetric>();
    c.usage.forEach((value, i) => {
        if (value !== undefined) metrics.set(`pod-${i}`, { value, timestamp: LONG_AGO, window: MINUTE });
    });
    (c.extraMetrics ?? []).forEach((value, i) => metrics.set(`extra-${i}`, { value, timestamp: LONG_AGO, window: MINUTE }));
    return getResourceReplicas({
        currentReplicas: c.cur, targetUtilization: c.target, resource: "cpu", tolerances: c.tolerances ?? TOL, pods, metrics,
        cpuInitializationPeriod: TEST_INIT, delayOfInitialReadinessStatus: TEST_DELAY, now: NOW,
    });
}

describe("GetResourceReplicas (replica_calculator_test.go)", () => {
    const x3 = [2000, 2000, 2000];
    const x5 = [2000, 2000, 2000, 2000, 2000];
    const cases: [string, CalcCase, number, number, number][] = [
        ["TestReplicaCalcScaleUp", { cur: 3, requests: x3, usage: [600, 1000, 1400], target: 30 }, 5, 50, 1000],
        ["TestReplicaCalcScaleUpUnreadyLessScale", { cur: 3, requests: x3, usage: [600, 1000, 1400], ready: [false, true, true], target: 30 }, 4, 60, 1200],
        ["TestReplicaCalcScaleUpHotCpuLessScale", { cur: 3, requests: x3, usage: [600, 1000, 1400], start: [HOT, COOL, COOL], target: 30 }, 4, 60, 1200],
        ["TestReplicaCalcScaleUpUnreadyNoScale", { cur: 3, requests: x3, usage: [800, 1000, 1400], ready: [true, false, false], target: 30 }, 3, 40, 800],
        ["TestReplicaCalcScaleHotCpuNoScale", { cur: 3, requests: x3, usage: [800, 1000, 1400], ready: [true, false, false], start: [COOL, HOT, HOT], target: 30 }, 3, 40, 800],
        ["TestReplicaCalcScaleUpIgnoresFailedPods", { cur: 2, requests: [2000, 2000, 2000, 2000], usage: [1000, 1400], ready: [true, true, false, false], phase: ["Running", "Running", "Failed", "Failed"], target: 30 }, 4, 60, 1200],
        ["TestReplicaCalcScaleUpIgnoresDeletionPods", { cur: 2, requests: [2000, 2000, 2000, 2000], usage: [1000, 1400], ready: [true, true, false, false], deleting: [false, false, true, true], target: 30 }, 4, 60, 1200],
        ["TestReplicaCalcScaleDown", { cur: 5, requests: x5, usage: [200, 600, 1000, 500, 500], target: 50 }, 3, 28, 560],
        ["TestReplicaCalcScaleDownExcludeUnreadyPods", { cur: 5, requests: x5, usage: [200, 600, 1000, 500, 500], ready: [true, true, true, false, false], target: 50 }, 2, 30, 600],
        ["TestReplicaCalcScaleDownExcludeUnscheduledPods", { cur: 5, requests: x5, usage: [200], ready: [true, false, false, false, false], phase: ["Running", "Pending", "Pending", "Pending", "Pending"], target: 50 }, 1, 10, 200],
        ["TestReplicaCalcScaleDownIgnoreHotCpuPods", { cur: 5, requests: x5, usage: [200, 600, 1000, 500, 500], start: [COOL, COOL, COOL, HOT, HOT], target: 50 }, 2, 30, 600],
        ["TestReplicaCalcScaleDownIgnoresFailedPods", { cur: 5, requests: [...x5, 2000, 2000], usage: [200, 600, 1000, 500, 500], ready: [true, true, true, true, true, false, false], phase: ["Running", "Running", "Running", "Running", "Running", "Failed", "Failed"], target: 50 }, 3, 28, 560],
        ["TestReplicaCalcTolerance", { cur: 3, requests: [1800, 2000, 2200], usage: [2020, 2060, 2040], target: 100 }, 3, 102, 2040],
        ["TestReplicaCalcSuperfluousMetrics", { cur: 4, requests: [2000, 2000, 2000, 2000], usage: [8000, 19000, 6000, 14000], extraMetrics: [6400, 4000], target: 100 }, 24, 587, 11750],
        ["TestReplicaCalcMissingMetrics", { cur: 4, requests: [2000, 2000, 2000, 2000], usage: [800, 190], target: 100 }, 3, 24, 495],
        ["TestReplicaCalcMissingMetricsNoChangeEq", { cur: 2, requests: [2000, 2000], usage: [2000], target: 100 }, 2, 100, 2000],
        ["TestReplicaCalcMissingMetricsNoChangeGt", { cur: 2, requests: [2000, 2000], usage: [3800], target: 100 }, 2, 190, 3800],
        ["TestReplicaCalcMissingMetricsNoChangeLt", { cur: 2, requests: [2000, 2000], usage: [1200], target: 100 }, 2, 60, 1200],
        ["TestReplicaCalcMissingMetricsUnreadyChange", { cur: 3, requests: x3, usage: [200, 900], ready: [false, true, true], target: 50 }, 3, 45, 900],
        ["TestReplicaCalcMissingMetricsHotCpuNoChange", { cur: 3, requests: x3, usage: [200, 900], start: [HOT, COOL, COOL], target: 50 }, 3, 45, 900],
        ["TestReplicaCalcMissingMetricsUnreadyScaleUp", { cur: 3, requests: x3, usage: [200, 4000], ready: [false, true, true], target: 50 }, 4, 200, 4000],
        ["TestReplicaCalcMissingMetricsHotCpuScaleUp", { cur: 3, requests: x3, usage: [200, 4000], ready: [false, true, true], start: [HOT, COOL, COOL], target: 50 }, 4, 200, 4000],
        ["TestReplicaCalcMissingMetricsUnreadyScaleDown", { cur: 4, requests: [2000, 2000, 2000, 2000], usage: [200, 200, 200], ready: [false, true, true, true], target: 50 }, 3, 10, 200],
        ["TestReplicaCalcMissingMetricsScaleDownTargetOver100", { cur: 4, requests: [2000, 2000, 4000, 4000], usage: [400, 200, 200], ready: [false, true, true, true], target: 300 }, 2, 6, 200],
        ["TestReplicaCalcDuringRollingUpdateWithMaxSurge", { cur: 2, requests: x3, usage: [200, 200], target: 50 }, 2, 10, 200],
    ];
    for (const [name, c, replicas, utilization, raw] of cases) {
        it(name, () => {
            expect(calc(c)).toEqual({ replicaCount: replicas, utilization, rawUtilization: raw });
        });
    }

    it("TestReplicaCalcEmptyMetrics", () => {
        expect(() => calc({ cur: 4, requests: x3, usage: [], target: 100 })).toThrow("unable to get metrics for resource cpu: no metrics returned from resource metrics API");
    });

    it("TestReplicaCalcEmptyCPURequest", () => {
        const pods: HpaPod[] = [{ name: "p", phase: "Running", ready: { status: true, lastTransitionTime: LONG_AGO }, startTime: LONG_AGO, requests: {} }];
        expect(() => getResourceReplicas({
            currentReplicas: 1, targetUtilization: 100, resource: "cpu", tolerances: TOL, pods, metrics: new Map([["p", { value: 400, timestamp: LONG_AGO, window: MINUTE }]]),
            cpuInitializationPeriod: TEST_INIT, delayOfInitialReadinessStatus: TEST_DELAY, now: NOW,
        })).toThrow("missing request for");
    });

    describe("TestReplicaCalcConfigurableTolerance", () => {
        const req = [1800, 2000, 2200];
        const cases: [string, Tolerances, number[], number, number][] = [
            ["Outside of a 0% tolerance", { scaleDown: 0, scaleUp: 0 }, [1818, 2020, 2222], 4, 101],
            ["Within a 200% scale-up tolerance", { scaleDown: 0.1, scaleUp: 2.0 }, [3780, 3820, 3800], 3, 190],
            ["Outside 8% scale-up tolerance (and superfuous scale-down tolerance)", { scaleDown: 2.0, scaleUp: 0.08 }, [2200, 2160, 2180], 4, 109],
            ["Within a 36% scale-down tolerance", { scaleDown: 0.36, scaleUp: 0.1 }, [1320, 1280, 1300], 3, 65],
            ["Outside a 34% scale-down tolerance", { scaleDown: 0.34, scaleUp: 0.1 }, [1320, 1280, 1300], 2, 65],
        ];
        for (const [name, tolerances, usage, replicas, utilization] of cases) {
            it(name, () => {
                const r = calc({ cur: 3, requests: req, usage, target: 100, tolerances });
                expect([r.replicaCount, r.utilization]).toEqual([replicas, utilization]);
            });
        }
    });

    it("TestReplicaCalcComputedToleranceAlgImplementation: target 56 scales to 9, target 55 stays within tolerance at 10", () => {
        const requests = [800, 400, 620, 580, 604, 596, 602, 598, 600, 600];
        const usage = requests.map(() => 300);
        const target1 = Math.trunc((1 / (2 * 0.9) + 0.01) * 100);
        const target2 = Math.trunc((1 / 1.8 + 0.004) * 100);
        expect([target1, target2]).toEqual([56, 55]);
        expect(calc({ cur: 10, requests, usage, target: target1 })).toMatchObject({ replicaCount: 9, utilization: 50 });
        expect(calc({ cur: 10, requests, usage, target: target2 })).toMatchObject({ replicaCount: 10, utilization: 50 });
    });

    it("DERIVED: sums memory in milli-bytes as int64: 1000 pods of 4 GiB (the sum x 100 is past 2^53)", () => {
        const gib4 = 4 * 2 ** 30 * 1000;
        const pods: HpaPod[] = Array.from({ length: 1000 }, (_, i) => ({ name: `p${i}`, phase: "Running", ready: { status: true, lastTransitionTime: LONG_AGO }, startTime: LONG_AGO, requests: { memory: gib4 } }));
        const metrics = new Map(pods.map((p) => [p.name, { value: gib4 * 0.9, timestamp: LONG_AGO, window: MINUTE }]));
        const r = getResourceReplicas({ currentReplicas: 1000, targetUtilization: 80, resource: "memory", tolerances: TOL, pods, metrics, cpuInitializationPeriod: TEST_INIT, delayOfInitialReadinessStatus: TEST_DELAY, now: NOW });
        expect(r).toEqual({ replicaCount: 1125, utilization: 90, rawUtilization: gib4 * 0.9 });
    });
});

describe("groupPods (replica_calculator_test.go TestGroupPods, init period 2 m, delay 10 s)", () => {
    type G = [string, HpaPod, PodMetric | undefined, "cpu" | "memory", "ready" | "unready" | "missing" | "ignored"];
    const pod = (p: Partial<HpaPod>): HpaPod => ({ name: "p", phase: "Running", requests: {}, ...p });
    const cases: G[] = [
        ["count in a ready pod - memory", pod({ phase: "Succeeded", startTime: NOW }), { value: 1, timestamp: NOW, window: MINUTE }, "memory", "ready"],
        ["unready a pod without ready condition - CPU", pod({ startTime: NOW }), { value: 1, timestamp: LONG_AGO, window: 0 }, "cpu", "unready"],
        ["count in a ready pod with fresh metrics during initialization period - CPU", pod({ startTime: NOW - MINUTE, ready: { status: true, lastTransitionTime: NOW - 30 } }), { value: 1, timestamp: NOW, window: 30 }, "cpu", "ready"],
        ["unready a ready pod without fresh metrics during initialization period - CPU", pod({ startTime: NOW - MINUTE, ready: { status: true, lastTransitionTime: NOW - 30 } }), { value: 1, timestamp: NOW, window: 60 }, "cpu", "unready"],
        ["unready an unready pod during initialization period - CPU", pod({ startTime: NOW - 10 * MINUTE, ready: { status: false, lastTransitionTime: NOW - 9 * MINUTE - 54 } }), { value: 1, timestamp: LONG_AGO, window: 0 }, "cpu", "unready"],
        ["count in a ready pod without fresh metrics after initialization period - CPU", pod({ startTime: NOW - 3 * MINUTE, ready: { status: true, lastTransitionTime: NOW - 3 * MINUTE } }), { value: 1, timestamp: NOW - 2 * MINUTE, window: MINUTE }, "cpu", "ready"],
        ["count in an unready pod that was ready after initialization period - CPU", pod({ startTime: NOW - 10 * MINUTE, ready: { status: false, lastTransitionTime: NOW - 9 * MINUTE } }), { value: 1, timestamp: LONG_AGO, window: 0 }, "cpu", "ready"],
        ["unready pod that has never been ready after initialization period - CPU", pod({ startTime: NOW - 10 * MINUTE, ready: { status: false, lastTransitionTime: NOW - 9 * MINUTE - 50 } }), { value: 1, timestamp: LONG_AGO, window: 0 }, "cpu", "ready"],
        ["a missing pod", pod({ startTime: NOW - 3 * MINUTE }), undefined, "cpu", "missing"],
        ["pending pods are unreadied", pod({ phase: "Pending" }), undefined, "cpu", "unready"],
        ["ignore pods with deletion timestamps", pod({ phase: "Pending", deleting: true }), { value: 1, timestamp: LONG_AGO, window: 0 }, "cpu", "ignored"],
        ["ignore pods in a failed state", pod({ phase: "Failed" }), { value: 1, timestamp: LONG_AGO, window: 0 }, "cpu", "ignored"],
    ];
    for (const [name, p, metric, resource, expected] of cases) {
        it(name, () => {
            const g = groupPods([p], new Map(metric ? [["p", metric]] : []), resource, TEST_INIT, TEST_DELAY, NOW);
            const got = g.readyPodCount === 1 ? "ready" : g.unreadyPods.has("p") ? "unready" : g.missingPods.has("p") ? "missing" : g.ignoredPods.has("p") ? "ignored" : "none";
            expect(got).toBe(expected);
        });
    }
});

/** horizontal_test.go constants: scaleUpLimitFactor 8 ("set this high so we don't accidentally run into it"), init 2 m, delay 10 s. */
const TEST_CONTROLLER: ControllerConfig = { ...DEFAULT_CONTROLLER, scaleUpLimitFactor: 8, cpuInitializationPeriod: TEST_INIT, delayOfInitialReadinessStatus: TEST_DELAY };

interface ControllerCase {
    min: number;
    max: number;
    spec: number;
    /** Pod requests in millicores (upstream gives cores). */
    requests?: number[];
    usage?: number[];
    target?: number;
    ready?: boolean[];
    start?: number[];
    phase?: HpaPod["phase"][];
    /** `recommendations: nil` instead of `[]`. */
    nilRecommendations?: boolean;
    behavior?: Behavior;
    invalidMetric?: boolean;
}

/** The horizontal_test.go harness (`prepareTestClient`): metric at now over 1 min, Ready since the pod's start. */
function controller(c: ControllerCase): number {
    const state: HpaState = c.nilRecommendations ? newHpaState() : { ...newHpaState(), recommendations: [] };
    const pods: HpaPod[] = (c.requests ?? []).map((request, i) => {
        const start = c.start?.[i] ?? COOL;
        return { name: `pod-${i}`, phase: c.phase?.[i] ?? "Running", ready: { status: c.ready?.[i] ?? true, lastTransitionTime: start }, startTime: start, requests: { cpu: request } };
    });
    const metrics = new Map<string, PodMetric>((c.usage ?? []).map((value, i) => [`pod-${i}`, { value, timestamp: NOW, window: MINUTE }]));
    const spec: HpaSpec = { minReplicas: c.min, maxReplicas: c.max, metrics: [{ resource: "cpu", averageUtilization: c.target ?? 50 }], behavior: c.behavior };
    const proposals = (): MetricProposal[] => {
        const out: MetricProposal[] = [];
        try {
            out.push({ replicas: getResourceReplicas({ currentReplicas: c.spec, targetUtilization: c.target ?? 50, resource: "cpu", tolerances: TOL, pods, metrics, cpuInitializationPeriod: TEST_INIT, delayOfInitialReadinessStatus: TEST_DELAY, now: NOW }).replicaCount });
        } catch (e) {
            out.push({ error: (e as Error).message });
        }
        if (c.invalidMetric) out.push({ error: 'unknown metric source type "CheddarCheese"' });
        return out;
    };
    return reconcileAutoscaler(spec, state, c.spec, proposals, NOW, TEST_CONTROLLER).desiredReplicas;
}

/** horizontal_test.go `generateScalingRules(pods, podsPeriod, percent, percentPeriod, window)`: Max; a Pods policy if pods != 0, then a Percent policy if percent != 0. */
function R(pods: number, podsPeriod: number, percent: number, percentPeriod: number, window: number): ScalingRules {
    const policies = [];
    if (pods !== 0) policies.push({ type: "Pods" as const, value: pods, periodSeconds: podsPeriod });
    if (percent !== 0) policies.push({ type: "Percent" as const, value: percent, periodSeconds: percentPeriod });
    return { stabilizationWindowSeconds: window, selectPolicy: "Max", policies };
}

describe("reconcileAutoscaler (horizontal_test.go)", () => {
    const k = (n: number) => Array.from({ length: n }, () => 1000);
    const odd = [900, 1000, 1100];
    const cases: [string, ControllerCase, number][] = [
        ["TestScaleUp", { min: 2, max: 6, spec: 3, requests: k(3), usage: [300, 500, 700], target: 30 }, 5],
        ["TestScaleUpUnreadyLessScale", { min: 2, max: 6, spec: 3, requests: k(3), usage: [300, 500, 700], target: 30, ready: [false, true, true] }, 4],
        ["TestScaleUpHotCpuLessScale", { min: 2, max: 6, spec: 3, requests: k(3), usage: [300, 500, 700], target: 30, start: [HOT, COOL, COOL] }, 4],
        ["TestScaleUpUnreadyNoScale", { min: 2, max: 6, spec: 3, requests: k(3), usage: [400, 500, 700], target: 30, ready: [true, false, false] }, 3],
        ["TestScaleUpIgnoresFailedPods", { min: 2, max: 6, spec: 2, requests: k(4), usage: [500, 700], target: 30, ready: [true, true, false, false], phase: ["Running", "Running", "Failed", "Failed"] }, 4],
        ["TestScaleDown", { min: 2, max: 6, spec: 5, requests: k(5), usage: [100, 300, 500, 250, 250], target: 50 }, 3],
        ["TestScaleDownStabilizeInitialSize", { min: 2, max: 6, spec: 5, requests: k(5), usage: [100, 300, 500, 250, 250], target: 50, nilRecommendations: true }, 5],
        ["TestScaleDownWithScalingRules", { min: 2, max: 6, spec: 5, requests: k(5), usage: [100, 300, 500, 250, 250], target: 50, behavior: { scaleUp: R(0, 0, 100, 15, 30) } }, 3],
        ["TestTolerance", { min: 1, max: 5, spec: 3, requests: odd, usage: [1010, 1030, 1020], target: 100 }, 3],
        ["TestMinReplicas", { min: 2, max: 5, spec: 3, requests: odd, usage: [10, 95, 10], target: 90 }, 2],
        ["TestZeroMinReplicasDesiredZero", { min: 0, max: 5, spec: 3, requests: odd, usage: [0, 0, 0], target: 90 }, 0],
        ["TestMinReplicasDesiredZero", { min: 2, max: 5, spec: 3, requests: odd, usage: [0, 0, 0], target: 90 }, 2],
        ["TestTooFewReplicas", { min: 3, max: 5, spec: 2, target: 90 }, 3],
        ["TestTooManyReplicas", { min: 3, max: 5, spec: 10, target: 90 }, 5],
        ["TestScaleUpRCImmediately", { min: 2, max: 6, spec: 1, requests: k(4), usage: [0, 0, 0, 0] }, 2],
        ["TestScaleDownRCImmediately", { min: 2, max: 5, spec: 6, requests: odd, usage: [8000, 9500, 1000], target: 50 }, 5],
        ["TestMaxReplicas", { min: 2, max: 5, spec: 3, requests: odd, usage: [8000, 9500, 1000], target: 90 }, 5],
        ["TestMissingMetrics", { min: 2, max: 6, spec: 4, requests: k(4), usage: [400, 95], target: 100 }, 3],
        ["TestEmptyMetrics", { min: 2, max: 6, spec: 4, requests: k(4), usage: [], target: 100 }, 4],
        ["TestMissingReports (1 pod exists)", { min: 1, max: 5, spec: 4, requests: [200], usage: [200], target: 50 }, 2],
        ["TestUpscaleCap", { min: 1, max: 100, spec: 3, requests: [100, 100, 100], usage: [100, 200, 300], target: 10, behavior: { scaleUp: R(0, 0, 700, 60, 0) } }, 24],
        ["TestUpscaleCapGreaterThanMaxReplicas", { min: 1, max: 20, spec: 3, requests: [100, 100, 100], usage: [100, 200, 300], target: 10, behavior: { scaleUp: R(0, 0, 700, 60, 0) } }, 20],
        ["TestMoreReplicasThanSpecNoScale (spec 4, 5 pods)", { min: 1, max: 8, spec: 4, requests: k(5), usage: [500, 500, 500, 500, 500], target: 50 }, 4],
        ["TestScaleUpOneMetricInvalid", { min: 2, max: 6, spec: 3, requests: k(3), usage: [300, 400, 500], target: 30, invalidMetric: true }, 4],
        ["TestNoScaleDownOneMetricInvalid", { min: 2, max: 6, spec: 5, requests: k(5), usage: [100, 300, 500, 250, 250], target: 50, invalidMetric: true }, 5],
    ];
    for (const [name, c, expected] of cases) it(name, () => expect(controller(c)).toBe(expected));

    it("TestSuperfluousMetrics (6 metrics for 4 pods) is capped at max 6", () => {
        const pods: HpaPod[] = [0, 1, 2, 3].map((i) => ({ name: `pod-${i}`, phase: "Running", ready: { status: true, lastTransitionTime: COOL }, startTime: COOL, requests: { cpu: 1000 } }));
        const metrics = new Map([4000, 9500, 3000, 7000, 3200, 2000].map((value, i) => [`pod-${i}`, { value, timestamp: NOW, window: MINUTE }]));
        const proposals = () => [{ replicas: getResourceReplicas({ currentReplicas: 4, targetUtilization: 100, resource: "cpu", tolerances: TOL, pods, metrics, cpuInitializationPeriod: TEST_INIT, delayOfInitialReadinessStatus: TEST_DELAY, now: NOW }).replicaCount }];
        expect(reconcileAutoscaler({ minReplicas: 2, maxReplicas: 6, metrics: [], behavior: undefined }, { ...newHpaState(), recommendations: [] }, 4, proposals, NOW, TEST_CONTROLLER)).toEqual({ desiredReplicas: 6, rescale: true, reason: "TooManyReplicas" });
    });
});

/** `generateEventsUniformDistribution(values, 120)`: events at segment centres (ages 100, 60, 20 for three; 105, 75, 45, 15 for four; 60 for one). */
function events(values: number[]) {
    const ages: Record<number, number[]> = { 1: [60], 3: [100, 60, 20], 4: [105, 75, 45, 15] };
    return values.map((replicaChange, i) => ({ replicaChange, timestamp: NOW - (ages[values.length]?.[i] ?? 0), outdated: false }));
}

function ruleArgs(cur: number, desired: number, min: number, max: number, up?: ScalingRules, down?: ScalingRules): NormalizationArg {
    const d = defaultBehavior({ scaleUp: up, scaleDown: down });
    return { scaleUpBehavior: d.scaleUp, scaleDownBehavior: { ...d.scaleDown, stabilizationWindowSeconds: d.scaleDown.stabilizationWindowSeconds ?? 300 }, minReplicas: min, maxReplicas: max, currentReplicas: cur, desiredReplicas: desired };
}

describe("convertDesiredReplicasWithBehaviorRate (horizontal_test.go TestScalingWithRules)", () => {
    type Row = [string, number, number, number, number, ScalingRules | undefined, ScalingRules | undefined, number[] | undefined, number[] | undefined, number, string];
    const rows: Row[] = [
        ["prenormalized desired replicas within range", 5, 7, 3, 8, undefined, undefined, undefined, undefined, 7, "DesiredWithinRange"],
        ["prenormalized desired replicas < minReplicas", 3, 1, 2, 8, undefined, undefined, undefined, undefined, 2, "TooFewReplicas"],
        ["prenormalized desired replicas within range when minReplicas is 0", 1, 0, 0, 10, undefined, undefined, undefined, undefined, 0, "DesiredWithinRange"],
        ["maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, undefined, undefined, undefined, undefined, 10, "TooManyReplicas"],
        ["desired replica count is more than the maximum replica count", 100, 1000, 100, 150, undefined, undefined, undefined, undefined, 150, "TooManyReplicas"],
        ["scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", 3, 1000, 1, 2000, R(0, 0, 1, 60, 0), undefined, undefined, undefined, 4, "ScaleUpLimit"],
        ["scaleUp with default behavior", 10, 50, 1, 1000, undefined, undefined, undefined, undefined, 20, "ScaleUpLimit"],
        ["scaleUp with pods policy larger than percent policy", 10, 500, 1, 1000, R(100, 60, 100, 60, 0), undefined, undefined, undefined, 110, "ScaleUpLimit"],
        ["scaleUp with percent policy larger than pods policy", 10, 500, 1, 1000, R(2, 60, 100, 60, 0), undefined, undefined, undefined, 20, "ScaleUpLimit"],
        ["scaleUp with spec MaxReplicas limitation with large pod policy", 10, 50, 1, 1000, R(100, 60, 0, 0, 0), undefined, undefined, undefined, 50, "DesiredWithinRange"],
        ["scaleUp with pod policy limitation", 10, 50, 1, 1000, R(30, 60, 0, 0, 0), undefined, undefined, undefined, 40, "ScaleUpLimit"],
        ["scaleUp with percent policy limitation", 10, 50, 1, 1000, R(0, 0, 200, 60, 0), undefined, undefined, undefined, 30, "ScaleUpLimit"],
        ["scaleDown with percent policy larger than pod policy", 100, 2, 1, 1000, undefined, R(20, 60, 1, 60, 300), undefined, undefined, 80, "ScaleDownLimit"],
        ["scaleDown with pod policy larger than percent policy", 100, 2, 1, 1000, undefined, R(2, 60, 1, 60, 300), undefined, undefined, 98, "ScaleDownLimit"],
        ["scaleDown with spec MinReplicas limitation with large pod policy", 10, 0, 1, 1000, undefined, R(100, 60, 0, 0, 300), undefined, undefined, 1, "TooFewReplicas"],
        ["scaleDown with spec MinReplicas limitation with large percent policy", 10, 2, 5, 1000, undefined, R(0, 0, 100, 60, 300), undefined, undefined, 5, "TooFewReplicas"],
        ["scaleDown with pod policy limitation", 10, 2, 1, 1000, undefined, R(5, 60, 0, 0, 300), undefined, undefined, 5, "ScaleDownLimit"],
        ["scaleDown with percent policy limitation", 10, 5, 1, 1000, undefined, R(0, 0, 50, 60, 300), undefined, undefined, 5, "DesiredWithinRange"],
        ["scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", 100, 500, 1, 1000, R(5, 120, 0, 0, 0), undefined, [1, 5, 9], undefined, 100, "ScaleUpLimit"],
        ["scaleUp with pod policy and previous scale up events", 100, 500, 1, 1000, R(150, 120, 0, 0, 0), undefined, [1, 5, 9], undefined, 235, "ScaleUpLimit"],
        ["scaleUp with percent policy and previous scale up events", 100, 500, 1, 1000, R(0, 0, 200, 120, 0), undefined, [1, 5, 9], undefined, 255, "ScaleUpLimit"],
        ["scaleUp with percent policy and previous scale up and down events", 6, 24, 1, 1000, R(0, 0, 300, 300, 0), undefined, [4], [2], 16, "ScaleUpLimit"],
        ["scaleUp with spec MaxReplicas limitation with large pod policy and events", 100, 500, 1, 200, R(300, 60, 0, 0, 0), undefined, [1, 5, 9], undefined, 200, "TooManyReplicas"],
        ["scaleDown with default policy and previous events", 10, 5, 1, 1000, undefined, undefined, undefined, [1, 5, 9], 5, "DesiredWithinRange"],
        ["scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", 100, 0, 1, 1000, undefined, R(115, 120, 0, 0, 300), undefined, [1, 5, 9], 1, "TooFewReplicas"],
        ["scaleDown with spec MinReplicas limitation with large pod policy and previous events", 100, 0, 5, 1000, undefined, R(130, 120, 0, 0, 300), undefined, [1, 5, 9], 5, "TooFewReplicas"],
        ["scaleDown with pod policy limitation and previous events", 100, 2, 1, 1000, undefined, R(5, 120, 0, 0, 300), undefined, [1, 5, 9], 100, "ScaleDownLimit"],
        ["scaleDown with percent policy limitation and previous events", 100, 0, 1, 1000, undefined, R(0, 0, 50, 120, 300), undefined, [2, 4, 6], 56, "ScaleDownLimit"],
        ["scaleDown with percent policy and previous scale up and down events", 10, 1, 1, 1000, undefined, R(0, 0, 50, 180, 0), [2], [4], 6, "ScaleDownLimit"],
        ["scaleDown with previous events preventing further scale down", 100, 0, 1, 1000, undefined, R(0, 0, 10, 120, 300), undefined, [10, 10, 10], 100, "ScaleDownLimit"],
        ["scaleDown with with previous events still allowing more scale down", 10, 5, 1, 1000, undefined, R(0, 0, 1000, 120, 300), undefined, [10, 10, 10], 5, "DesiredWithinRange"],
        ["check that events were marked 'outdated' for two different policies in the behavior for up", 100, 200, 1, 1000, R(1000, 30, 100, 60, 0), undefined, [8, 12, 9, 11], undefined, 200, "DesiredWithinRange"],
    ];
    for (const [name, cur, desired, min, max, up, down, upEvents, downEvents, expected, reason] of rows) {
        it(name, () => {
            const state: HpaState = { recommendations: [], scaleUpEvents: events(upEvents ?? []), scaleDownEvents: events(downEvents ?? []) };
            expect(convertDesiredReplicasWithBehaviorRate(state, ruleArgs(cur, desired, min, max, up, down), NOW)).toEqual({ replicas: expected, reason });
        });
    }

    it("TestCalculateScaleUpLimitWithScalingRules: Min of {2 pods, 50 %} per 60 s from 1 is 2", () => {
        expect(calculateScaleUpLimitWithScalingRules(1, [], [], { selectPolicy: "Min", policies: [{ type: "Pods", value: 2, periodSeconds: 60 }, { type: "Percent", value: 50, periodSeconds: 60 }] }, NOW)).toBe(2);
    });

    it("TestCalculateScaleDownLimitWithBehaviors: Min of {2 pods, 50 %} per 60 s from 5 is 3", () => {
        expect(calculateScaleDownLimitWithBehaviors(5, [], [], { selectPolicy: "Min", policies: [{ type: "Pods", value: 2, periodSeconds: 60 }, { type: "Percent", value: 50, periodSeconds: 60 }] }, NOW)).toBe(3);
    });

    it("TestConvertDesiredReplicasWithRules (no behavior, test factor 8)", () => {
        const rows: [number, number, number, number, number, string][] = [
            [5, 7, 3, 8, 7, "DesiredWithinRange"],
            [3, 1, 2, 8, 2, "TooFewReplicas"],
            [1, 0, 0, 10, 0, "DesiredWithinRange"],
            [20, 1000, 1, 10, 10, "TooManyReplicas"],
            [3, 1000, 1, 2000, 24, "ScaleUpLimit"],
        ];
        for (const [cur, desired, min, max, expected, reason] of rows) {
            expect(convertDesiredReplicasWithRules(cur, desired, min, max, TEST_CONTROLLER)).toEqual({ replicas: expected, reason });
        }
        // Production factor 2: max(2 x 3, 4) = 6.
        expect(convertDesiredReplicasWithRules(3, 1000, 1, 2000, DEFAULT_CONTROLLER).replicas).toBe(6);
    });
});

describe("stabilization (horizontal_test.go)", () => {
    const recs = (pairs: [number, number][]) => pairs.map(([recommendation, ageMinutes]) => ({ recommendation, timestamp: NOW - ageMinutes * MINUTE }));
    type S = [string, [number, number][], number, number, number, number, number, number[] | undefined];
    const rows: S[] = [
        ["empty recommendations for scaling down", [], 100, 5, 0, 0, 5, [5]],
        ["simple scale down stabilization", [[4, 2], [5, 1]], 100, 3, 0, 180, 5, [4, 5, 3]],
        ["simple scale up stabilization", [[4, 2], [5, 1]], 1, 7, 300, 0, 4, [4, 5, 7]],
        ["no scale down stabilization", [[1, 2], [2, 1]], 100, 3, 300, 0, 3, [1, 2, 3]],
        ["no scale up stabilization", [[4, 2], [5, 1]], 1, 3, 0, 300, 3, [4, 5, 3]],
        ["no scale down stabilization, reuse recommendation element", [[10, 10], [9, 9]], 100, 3, 0, 0, 3, [10, 3]],
        ["no scale up stabilization, reuse recommendation element", [[10, 10], [9, 9]], 1, 100, 0, 0, 100, [10, 100]],
        ["scale down stabilization, reuse one of obsolete recommendation element", [[10, 10], [4, 1], [5, 2], [9, 9]], 100, 3, 0, 180, 5, [10, 4, 5, 3]],
        ["scale up stabilization, reuse one of obsolete recommendation element", [[10, 100], [6, 1], [5, 2], [9, 3]], 1, 100, 300, 0, 5, [100, 6, 5, 9]],
        ["scale up and down stabilization, do not scale up when prenormalized rec goes down", [[2, 100], [3, 3]], 2, 1, 300, 300, 2, undefined],
        ["scale up and down stabilization, do not scale down when prenormalized rec goes up", [[2, 100], [1, 3]], 2, 3, 300, 300, 2, undefined],
    ];
    for (const [name, history, cur, desired, upWindow, downWindow, expected, stored] of rows) {
        it(`TestNormalizeDesiredReplicasWithBehavior: ${name}`, () => {
            const state: HpaState = { recommendations: recs(history), scaleUpEvents: [], scaleDownEvents: [] };
            const args = ruleArgs(cur, desired, 1, 1000, { stabilizationWindowSeconds: upWindow }, { stabilizationWindowSeconds: downWindow });
            expect(stabilizeRecommendationWithBehaviors(state, args, NOW)).toBe(expected);
            if (stored) expect(state.recommendations?.map((r) => r.recommendation)).toEqual(stored);
        });
    }

    const plain: [string, [number, number][], number, number, number][] = [
        ["empty log", [], 5, 5, 1],
        ["stabilize", [[4, 2], [5, 1]], 3, 5, 3],
        ["no stabilize", [[1, 2], [2, 1]], 3, 3, 3],
        ["no stabilize - old recommendations", [[10, 10], [9, 9]], 3, 3, 2],
        ["stabilize - old recommendations", [[10, 10], [4, 1], [5, 2], [9, 9]], 3, 5, 4],
    ];
    for (const [name, history, desired, expected, length] of plain) {
        it(`TestNormalizeDesiredReplicas: ${name}`, () => {
            const state: HpaState = { recommendations: recs(history), scaleUpEvents: [], scaleDownEvents: [] };
            expect(stabilizeRecommendation(state, desired, 300, NOW)).toBe(expected);
            expect(state.recommendations).toHaveLength(length);
        });
    }
});

describe("DERIVED (no upstream test; worked by hand from the ported code)", () => {
    const convert = (cur: number, desired: number, min: number, max: number, up?: ScalingRules, down?: ScalingRules) => convertDesiredReplicasWithBehaviorRate(newHpaState(), ruleArgs(cur, desired, min, max, up, down), NOW);
    const upPolicies = [{ type: "Pods" as const, value: 4, periodSeconds: 15 }, { type: "Percent" as const, value: 100, periodSeconds: 15 }];
    const downPolicies = [{ type: "Pods" as const, value: 2, periodSeconds: 60 }, { type: "Percent" as const, value: 50, periodSeconds: 60 }];

    it("DERIVED: selectPolicy Disabled holds scale-up at the current count, and scale-down too", () => {
        expect(convert(4, 10, 1, 20, { selectPolicy: "Disabled" })).toEqual({ replicas: 4, reason: "ScaleUpLimit" });
        expect(convert(10, 2, 1, 20, undefined, { selectPolicy: "Disabled" })).toEqual({ replicas: 10, reason: "ScaleDownLimit" });
        // Up disabled, desired below current: the down rules (defaults, 100 %) apply.
        expect(convert(10, 5, 1, 20, { selectPolicy: "Disabled" })).toEqual({ replicas: 5, reason: "DesiredWithinRange" });
    });

    it("DERIVED: Min picks the smallest change, Max the biggest", () => {
        expect(convert(10, 50, 1, 100, { selectPolicy: "Max", policies: upPolicies }).replicas).toBe(20);
        expect(convert(10, 50, 1, 100, { selectPolicy: "Min", policies: upPolicies }).replicas).toBe(14);
        expect(convert(2, 50, 1, 100, { selectPolicy: "Max", policies: upPolicies }).replicas).toBe(6);
        expect(convert(2, 50, 1, 100, { selectPolicy: "Min", policies: upPolicies }).replicas).toBe(4);
        expect(convert(10, 1, 1, 100, undefined, { selectPolicy: "Max", policies: downPolicies }).replicas).toBe(5);
        expect(convert(10, 1, 1, 100, undefined, { selectPolicy: "Min", policies: downPolicies }).replicas).toBe(8);
    });

    it("DERIVED: scale-down Percent truncates (5 x 0.5 = 2.5 -> 2); with min 2 the min is the reason", () => {
        expect(convert(5, 1, 2, 10, undefined, { selectPolicy: "Min", policies: [{ type: "Percent", value: 50, periodSeconds: 60 }] })).toEqual({ replicas: 2, reason: "TooFewReplicas" });
        expect(convert(5, 1, 1, 10, undefined, { selectPolicy: "Min", policies: [{ type: "Percent", value: 50, periodSeconds: 60 }] })).toEqual({ replicas: 2, reason: "ScaleDownLimit" });
    });

    it("DERIVED: a ratio of exactly 1.1 (110 % of target) is within the 0.1 tolerance", () => {
        expect(calc({ cur: 2, requests: [1000, 1000], usage: [550, 550], target: 50 }).replicaCount).toBe(2);
        expect(calc({ cur: 2, requests: [1000, 1000], usage: [560, 560], target: 50 }).replicaCount).toBe(3);
    });

    it("DERIVED: the project's behavior (components/microservice.ts hpaBehavior) from 3 to 20 and back, one 15 s sync at a time", () => {
        const behavior: Behavior = {
            scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [{ type: "Percent", value: 100, periodSeconds: 15 }, { type: "Pods", value: 4, periodSeconds: 15 }] },
            scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: "Min", policies: [{ type: "Percent", value: 50, periodSeconds: 60 }] },
        };
        const spec: HpaSpec = { minReplicas: 2, maxReplicas: 20, metrics: [], behavior };
        const state = newHpaState();
        let replicas = 3;
        const trace: number[] = [];
        const step = (t: number, raw: number) => {
            replicas = reconcileAutoscaler(spec, state, replicas, () => [{ replicas: raw }], t).desiredReplicas;
            trace.push(replicas);
        };
        // Up: 3 -> 7 (max(3 + 4, 6)) -> 14 (max(11, 14)) -> 20.
        step(0, 20); step(15, 20); step(30, 20);
        expect(trace).toEqual([7, 14, 20]);
        // Down: held at 20 while a 20 is in the last 300 s, then halved per 60 s: 10, 5, then 2 (int32(2.5), min 2).
        // The last 20 is at t = 30; at t = 330 it is exactly 300 s old and out of the window (strict After).
        for (let t = 45; t <= 315; t += 15) step(t, 1);
        expect(replicas).toBe(20);
        step(330, 1);
        expect(replicas).toBe(10);
        step(345, 1); step(360, 1); step(375, 1);
        expect(replicas).toBe(10);
        step(390, 1);
        expect(replicas).toBe(5);
        step(450, 1);
        expect(replicas).toBe(2);
    });
});
