/**
 * The HorizontalPodAutoscaler controller's replica arithmetic, ported function by function from
 * kubernetes/kubernetes `pkg/controller/podautoscaler`, so `npm run plan` decides replicas exactly
 * as kube-controller-manager would. Pure: time is an explicit `now` in seconds, where upstream
 * calls `time.Now()`.
 *
 * Sources, as read through the search index (it maps files to commits, not to tags; see
 * /work/research/hpa-capacity.md §0.1 for why the logic is the same at v1.35.0 and v1.36.0):
 * - `replica_calculator.go` @19e8ce761f25f5ad954027875206a402acb905b8 (Tolerances era):
 *   `GetResourceReplicas`, `groupPods`, `calculateRequests`, `removeMetricsForPods`.
 * - `metrics/utilization.go` @819ecd4dbe6afbaa4f6227d22b9c46938d48e603: `GetResourceUtilizationRatio`.
 * - `horizontal.go` @88cca8337e1ddf5b2e8b7411ffa27bc2f27d980e: `reconcileAutoscaler`,
 *   `computeReplicasForMetrics`, `recordInitialRecommendation`, `tolerancesForHpa`,
 *   `stabilizeRecommendation`, `normalizeDesiredReplicas`, `convertDesiredReplicasWithRules`,
 *   `calculateScaleUpLimit`, `normalizeDesiredReplicasWithBehaviors`,
 *   `maybeInitScaleDownStabilizationWindow`, `stabilizeRecommendationWithBehaviors`,
 *   `convertDesiredReplicasWithBehaviorRate`, `calculateScaleUpLimitWithScalingRules`,
 *   `calculateScaleDownLimitWithBehaviors`, `getReplicasChangePerPeriod`, `storeScaleEvent`,
 *   `markScaleEventsOutdated`, `getLongestPolicyPeriod`.
 * - `pkg/apis/autoscaling/v2/defaults.go` @1adaa753: the API defaults of `behavior`.
 * - `pkg/controller/podautoscaler/config/v1alpha1/defaults.go` @85643c0f: controller flag defaults.
 *
 * Go's `int32(x)` truncates (`Math.trunc`), `math.Ceil` is `Math.ceil`; int64 sums are BigInt
 * here, because milli-byte memory sums pass 2^53.
 */

/** A point in simulated time, in seconds. */
export type Seconds = number;

/** Upstream's "zero time" (`time.Time{}`): before any simulated moment. */
export const LONG_AGO: Seconds = -1e12;

/** Resources an HPA `Utilization` target can name. */
export type ResourceName = "cpu" | "memory";

/** kube-controller-manager's HPA flags (config/v1alpha1/defaults.go `RecommendedDefaultHPAControllerConfiguration`). */
export interface ControllerConfig {
    /** `--horizontal-pod-autoscaler-sync-period`: 15 s. */
    syncPeriod: Seconds;
    /** `--horizontal-pod-autoscaler-downscale-stabilization`: 300 s. */
    downscaleStabilisationWindow: Seconds;
    /** `--horizontal-pod-autoscaler-tolerance`: 0.1. */
    tolerance: number;
    /** `--horizontal-pod-autoscaler-cpu-initialization-period`: 300 s. */
    cpuInitializationPeriod: Seconds;
    /** `--horizontal-pod-autoscaler-initial-readiness-delay`: 30 s. */
    delayOfInitialReadinessStatus: Seconds;
    /** Feature gate HPAConfigurableTolerance: Beta and on by default in 1.35 and 1.36 (kube_features.go). */
    configurableTolerance: boolean;
    /** horizontal.go `scaleUpLimitFactor` (2.0; its tests set 8) and `scaleUpLimitMinimum` (4.0): the no-behavior path only. */
    scaleUpLimitFactor: number;
    scaleUpLimitMinimum: number;
}

export const DEFAULT_CONTROLLER: ControllerConfig = {
    syncPeriod: 15,
    downscaleStabilisationWindow: 300,
    tolerance: 0.1,
    cpuInitializationPeriod: 300,
    delayOfInitialReadinessStatus: 30,
    configurableTolerance: true,
    scaleUpLimitFactor: 2,
    scaleUpLimitMinimum: 4,
};

// ---------------------------------------------------------------------------------------------
// Replica calculator (replica_calculator.go, metrics/utilization.go)
// ---------------------------------------------------------------------------------------------

/** replica_calculator.go `Tolerances`. */
export interface Tolerances {
    scaleDown: number;
    scaleUp: number;
}

/** replica_calculator.go `Tolerances.isWithin`: the band is inclusive. */
export function isWithin(t: Tolerances, usageRatio: number): boolean {
    return 1.0 - t.scaleDown <= usageRatio && usageRatio <= 1.0 + t.scaleUp;
}

/** metrics-server's answer for one pod (metrics/client.go `PodMetric`): a milli-value, when it was sampled and over what window. */
export interface PodMetric {
    value: number;
    timestamp: Seconds;
    window: Seconds;
}

/** The parts of a Pod the replica calculator reads. */
export interface HpaPod {
    name: string;
    phase: "Pending" | "Running" | "Succeeded" | "Failed";
    /** `metadata.deletionTimestamp` set. */
    deleting?: boolean;
    /** The Ready condition; undefined when the pod has none. */
    ready?: { status: boolean; lastTransitionTime: Seconds };
    /** `status.startTime`; undefined when not set. */
    startTime?: Seconds;
    /** Sum of the containers' requests in milli-units (millicores, milli-bytes); undefined: a container lacks it. */
    requests: Partial<Record<ResourceName, number>>;
}

/** An error the calculator returns (upstream's `err`), e.g. no metrics for any pod. */
export class MetricError extends Error {
    override name = "MetricError";
}

/** replica_calculator.go `groupPods`. */
export function groupPods(
    pods: readonly HpaPod[],
    metrics: ReadonlyMap<string, PodMetric>,
    resource: ResourceName,
    cpuInitializationPeriod: Seconds,
    delayOfInitialReadinessStatus: Seconds,
    now: Seconds,
): { readyPodCount: number; unreadyPods: Set<string>; missingPods: Set<string>; ignoredPods: Set<string> } {
    const missingPods = new Set<string>();
    const unreadyPods = new Set<string>();
    const ignoredPods = new Set<string>();
    let readyPodCount = 0;
    for (const pod of pods) {
        if (pod.deleting || pod.phase === "Failed") {
            ignoredPods.add(pod.name);
            continue;
        }
        // Pending pods are ignored.
        if (pod.phase === "Pending") {
            unreadyPods.add(pod.name);
            continue;
        }
        // Pods missing metrics.
        const metric = metrics.get(pod.name);
        if (metric === undefined) {
            missingPods.add(pod.name);
            continue;
        }
        // Unready pods are ignored.
        if (resource === "cpu") {
            let unready: boolean;
            const condition = pod.ready;
            if (condition === undefined || pod.startTime === undefined) {
                unready = true;
            } else if (pod.startTime + cpuInitializationPeriod > now) {
                // Pod still within possible initialisation period: ignore the sample if the pod is
                // unready or one window of metric wasn't collected since the last state transition.
                unready = !condition.status || metric.timestamp < condition.lastTransitionTime + metric.window;
            } else {
                // Ignore the metric if the pod is unready and it has never been ready.
                unready = !condition.status && pod.startTime + delayOfInitialReadinessStatus > condition.lastTransitionTime;
            }
            if (unready) {
                unreadyPods.add(pod.name);
                continue;
            }
        }
        readyPodCount++;
    }
    return { readyPodCount, unreadyPods, missingPods, ignoredPods };
}

/** replica_calculator.go `calculateRequests` (one request sum per pod; no pod-level resources). */
export function calculateRequests(pods: readonly HpaPod[], resource: ResourceName): Map<string, number> {
    const requests = new Map<string, number>();
    for (const pod of pods) {
        const request = pod.requests[resource];
        if (request === undefined) throw new MetricError(`missing request for ${resource} in a container of Pod ${pod.name}`);
        requests.set(pod.name, request);
    }
    return requests;
}

/** metrics/utilization.go `GetResourceUtilizationRatio`: the ratio is taken from the truncated integer percent. */
export function getResourceUtilizationRatio(
    metrics: ReadonlyMap<string, PodMetric>,
    requests: ReadonlyMap<string, number>,
    targetUtilization: number,
): { utilizationRatio: number; currentUtilization: number; rawAverageValue: number } {
    let metricsTotal = 0n;
    let requestsTotal = 0n;
    let numEntries = 0n;
    for (const [podName, metric] of metrics) {
        const request = requests.get(podName);
        // We check for missing requests elsewhere, so assuming missing requests == extraneous metrics.
        if (request === undefined) continue;
        metricsTotal += BigInt(Math.trunc(metric.value));
        requestsTotal += BigInt(Math.trunc(request));
        numEntries++;
    }
    // If the set of requests is completely disjoint from the set of metrics, the request total is 0.
    if (requestsTotal === 0n) throw new MetricError("no metrics returned matched known pods");
    const currentUtilization = Number((metricsTotal * 100n) / requestsTotal);
    return {
        utilizationRatio: currentUtilization / targetUtilization,
        currentUtilization,
        rawAverageValue: Number(metricsTotal / numEntries),
    };
}

/** What {@link getResourceReplicas} reads besides the pods and their metrics. */
export interface ResourceReplicasArgs {
    currentReplicas: number;
    targetUtilization: number;
    resource: ResourceName;
    tolerances: Tolerances;
    pods: readonly HpaPod[];
    /** metrics-server's answers by pod name (may include pods not in `pods`). */
    metrics: ReadonlyMap<string, PodMetric>;
    cpuInitializationPeriod: Seconds;
    delayOfInitialReadinessStatus: Seconds;
    now: Seconds;
}

/** What the calculator proposes for one metric. */
export interface ResourceReplicas {
    replicaCount: number;
    /** Current utilization, percent of request (the status shows it). */
    utilization: number;
    /** Average usage over the pods with metrics, milli-units. */
    rawUtilization: number;
}

/** replica_calculator.go `GetResourceReplicas`. Throws {@link MetricError} where upstream returns an error. */
export function getResourceReplicas(a: ResourceReplicasArgs): ResourceReplicas {
    if (a.metrics.size === 0) throw new MetricError(`unable to get metrics for resource ${a.resource}: no metrics returned from resource metrics API`);
    if (a.pods.length === 0) throw new MetricError("no pods returned by selector while calculating replica count");
    const metrics = new Map(a.metrics);

    const { readyPodCount, unreadyPods, missingPods, ignoredPods } = groupPods(a.pods, metrics, a.resource, a.cpuInitializationPeriod, a.delayOfInitialReadinessStatus, a.now);
    for (const name of ignoredPods) metrics.delete(name);
    for (const name of unreadyPods) metrics.delete(name);
    if (metrics.size === 0) throw new MetricError("did not receive metrics for targeted pods (pods might be unready)");

    const requests = calculateRequests(a.pods, a.resource);
    const { utilizationRatio: usageRatio, currentUtilization: utilization, rawAverageValue: rawUtilization } = getResourceUtilizationRatio(metrics, requests, a.targetUtilization);

    const scaleUpWithUnready = unreadyPods.size > 0 && usageRatio > 1.0;
    if (!scaleUpWithUnready && missingPods.size === 0) {
        // Return the current replicas if the change would be too small.
        if (isWithin(a.tolerances, usageRatio)) return { replicaCount: a.currentReplicas, utilization, rawUtilization };
        // If we don't have any unready or missing pods, we can calculate the new replica count now.
        return { replicaCount: Math.trunc(Math.ceil(usageRatio * readyPodCount)), utilization, rawUtilization };
    }

    if (missingPods.size > 0) {
        if (usageRatio < 1.0) {
            // On a scale-down, treat missing pods as using 100% (all) of the resource request, or
            // the utilization target for targets higher than 100%.
            const fallbackUtilization = BigInt(Math.max(100, a.targetUtilization));
            for (const name of missingPods) {
                metrics.set(name, { value: Number((BigInt(requests.get(name) ?? 0) * fallbackUtilization) / 100n), timestamp: LONG_AGO, window: 0 });
            }
        } else if (usageRatio > 1.0) {
            // On a scale-up, treat missing pods as using 0% of the resource request.
            for (const name of missingPods) metrics.set(name, { value: 0, timestamp: LONG_AGO, window: 0 });
        }
    }

    if (scaleUpWithUnready) {
        // On a scale-up, treat unready pods as using 0% of the resource request.
        for (const name of unreadyPods) metrics.set(name, { value: 0, timestamp: LONG_AGO, window: 0 });
    }

    // Re-run the utilization calculation with our new numbers.
    const newUsageRatio = getResourceUtilizationRatio(metrics, requests, a.targetUtilization).utilizationRatio;

    if (isWithin(a.tolerances, newUsageRatio) || (usageRatio < 1.0 && newUsageRatio > 1.0) || (usageRatio > 1.0 && newUsageRatio < 1.0)) {
        // Return the current replicas if the change would be too small, or if the new usage
        // ratio would cause a change in scale direction.
        return { replicaCount: a.currentReplicas, utilization, rawUtilization };
    }

    const newReplicas = Math.trunc(Math.ceil(newUsageRatio * metrics.size));
    if ((newUsageRatio < 1.0 && newReplicas > a.currentReplicas) || (newUsageRatio > 1.0 && newReplicas < a.currentReplicas)) {
        // Return the current replicas if the change of metrics length would cause a change in scale direction.
        return { replicaCount: a.currentReplicas, utilization, rawUtilization };
    }
    // The number of replicas considered is however many replicas factored into our calculation.
    return { replicaCount: newReplicas, utilization, rawUtilization };
}

// ---------------------------------------------------------------------------------------------
// The HPA object and its behavior (autoscaling/v2)
// ---------------------------------------------------------------------------------------------

/** `HPAScalingPolicy`. */
export interface ScalingPolicy {
    type: "Pods" | "Percent";
    value: number;
    periodSeconds: number;
}

/** `HPAScalingRules`; fields left out are defaulted by {@link defaultBehavior}. */
export interface ScalingRules {
    stabilizationWindowSeconds?: number;
    selectPolicy?: "Max" | "Min" | "Disabled";
    policies?: ScalingPolicy[];
    /** KEP-4951 (`HPAConfigurableTolerance`), a fraction such as 0.05. */
    tolerance?: number;
}

/** `HorizontalPodAutoscalerBehavior`. */
export interface Behavior {
    scaleUp?: ScalingRules;
    scaleDown?: ScalingRules;
}

/** One `Resource` metric with a `Utilization` target. */
export interface UtilizationMetric {
    resource: ResourceName;
    /** `target.averageUtilization`, percent of request. */
    averageUtilization: number;
}

/** The HPA spec the controller reads. */
export interface HpaSpec {
    /** Default 1 (`reconcileAutoscaler`). */
    minReplicas?: number;
    maxReplicas: number;
    metrics: UtilizationMetric[];
    /** As declared (before API defaulting); undefined: no behavior (the legacy path). */
    behavior?: Behavior;
}

/** Rules with every field set, as the API server stores them. */
export interface DefaultedRules {
    stabilizationWindowSeconds: number | undefined;
    selectPolicy: "Max" | "Min" | "Disabled";
    policies: ScalingPolicy[];
    tolerance: number | undefined;
}

/**
 * pkg/apis/autoscaling/v2/defaults.go `SetDefaults_HorizontalPodAutoscalerBehavior` with
 * `GenerateHPAScaleUpRules`/`GenerateHPAScaleDownRules` (`copyHPAScalingRules` copies each field
 * that is set, so a user's `policies` replace the default list whole): up, window 0, Max of
 * {4 pods, 100 %} per 15 s; down, window unset (the controller's 300 s later), Max of {100 %} per 15 s.
 */
export function defaultBehavior(b: Behavior): { scaleUp: DefaultedRules; scaleDown: DefaultedRules } {
    const up: DefaultedRules = { stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [{ type: "Pods", value: 4, periodSeconds: 15 }, { type: "Percent", value: 100, periodSeconds: 15 }], tolerance: undefined };
    const down: DefaultedRules = { stabilizationWindowSeconds: undefined, selectPolicy: "Max", policies: [{ type: "Percent", value: 100, periodSeconds: 15 }], tolerance: undefined };
    const copy = (from: ScalingRules | undefined, to: DefaultedRules): DefaultedRules => ({
        stabilizationWindowSeconds: from?.stabilizationWindowSeconds ?? to.stabilizationWindowSeconds,
        selectPolicy: from?.selectPolicy ?? to.selectPolicy,
        policies: from?.policies ?? to.policies,
        tolerance: from?.tolerance ?? to.tolerance,
    });
    return { scaleUp: copy(b.scaleUp, up), scaleDown: copy(b.scaleDown, down) };
}

/** horizontal.go `tolerancesForHpa`. */
export function tolerancesForHpa(behavior: Behavior | undefined, config: ControllerConfig): Tolerances {
    const t = { scaleDown: config.tolerance, scaleUp: config.tolerance };
    if (behavior === undefined || !config.configurableTolerance) return t;
    if (behavior.scaleDown?.tolerance !== undefined) t.scaleDown = behavior.scaleDown.tolerance;
    if (behavior.scaleUp?.tolerance !== undefined) t.scaleUp = behavior.scaleUp.tolerance;
    return t;
}

// ---------------------------------------------------------------------------------------------
// Controller state and normalization (horizontal.go)
// ---------------------------------------------------------------------------------------------

/** horizontal.go `timestampedRecommendation`. */
export interface TimestampedRecommendation {
    recommendation: number;
    timestamp: Seconds;
}

/** horizontal.go `timestampedScaleEvent`. */
export interface TimestampedScaleEvent {
    /** Absolute value, non-negative. */
    replicaChange: number;
    timestamp: Seconds;
    outdated: boolean;
}

/** What the controller keeps per HPA between syncs (`recommendations`, `scaleUpEvents`, `scaleDownEvents`). */
export interface HpaState {
    /** undefined until the first reconcile (`a.recommendations[key] == nil`). */
    recommendations?: TimestampedRecommendation[];
    scaleUpEvents: TimestampedScaleEvent[];
    scaleDownEvents: TimestampedScaleEvent[];
}

export function newHpaState(): HpaState {
    return { scaleUpEvents: [], scaleDownEvents: [] };
}

/** horizontal.go `NormalizationArg`, with the rules already defaulted. */
export interface NormalizationArg {
    scaleUpBehavior: DefaultedRules;
    scaleDownBehavior: DefaultedRules & { stabilizationWindowSeconds: number };
    minReplicas: number;
    maxReplicas: number;
    currentReplicas: number;
    desiredReplicas: number;
}

/** A decision and the HPA condition reason upstream sets for it. */
export interface Limited {
    replicas: number;
    reason: string;
}

/** horizontal.go `getReplicasChangePerPeriod`: events strictly newer than `now - period`. */
export function getReplicasChangePerPeriod(periodSeconds: number, scaleEvents: readonly TimestampedScaleEvent[], now: Seconds): number {
    const cutoff = now - periodSeconds;
    let replicas = 0;
    for (const rec of scaleEvents) if (rec.timestamp > cutoff) replicas += rec.replicaChange;
    return replicas;
}

/** horizontal.go `calculateScaleUpLimitWithScalingRules`: Percent rounds up. */
export function calculateScaleUpLimitWithScalingRules(currentReplicas: number, scaleUpEvents: readonly TimestampedScaleEvent[], scaleDownEvents: readonly TimestampedScaleEvent[], rules: Pick<DefaultedRules, "selectPolicy" | "policies">, now: Seconds): number {
    if (rules.selectPolicy === "Disabled") return currentReplicas; // Scaling is disabled
    // For scaling up, the lowest change ('min' policy) produces a minimum value.
    const minChange = rules.selectPolicy === "Min";
    let result = minChange ? 2 ** 31 - 1 : -(2 ** 31);
    for (const policy of rules.policies) {
        const added = getReplicasChangePerPeriod(policy.periodSeconds, scaleUpEvents, now);
        const deleted = getReplicasChangePerPeriod(policy.periodSeconds, scaleDownEvents, now);
        const periodStartReplicas = currentReplicas - added + deleted;
        let proposed = 0;
        if (policy.type === "Pods") proposed = periodStartReplicas + policy.value;
        // The proposal has to be rounded up because the proposed change might not increase the
        // replica count causing the target to never scale up.
        else if (policy.type === "Percent") proposed = Math.trunc(Math.ceil(periodStartReplicas * (1 + policy.value / 100)));
        result = minChange ? Math.min(result, proposed) : Math.max(result, proposed);
    }
    return result;
}

/** horizontal.go `calculateScaleDownLimitWithBehaviors`: Percent truncates. */
export function calculateScaleDownLimitWithBehaviors(currentReplicas: number, scaleUpEvents: readonly TimestampedScaleEvent[], scaleDownEvents: readonly TimestampedScaleEvent[], rules: Pick<DefaultedRules, "selectPolicy" | "policies">, now: Seconds): number {
    if (rules.selectPolicy === "Disabled") return currentReplicas; // Scaling is disabled
    // For scaling down, the lowest change ('min' policy) produces a maximum value.
    const minChange = rules.selectPolicy === "Min";
    let result = minChange ? -(2 ** 31) : 2 ** 31 - 1;
    for (const policy of rules.policies) {
        const added = getReplicasChangePerPeriod(policy.periodSeconds, scaleUpEvents, now);
        const deleted = getReplicasChangePerPeriod(policy.periodSeconds, scaleDownEvents, now);
        const periodStartReplicas = currentReplicas - added + deleted;
        let proposed = 0;
        if (policy.type === "Pods") proposed = periodStartReplicas - policy.value;
        else if (policy.type === "Percent") proposed = Math.trunc(periodStartReplicas * (1 - policy.value / 100));
        result = minChange ? Math.max(result, proposed) : Math.min(result, proposed);
    }
    return result;
}

/** horizontal.go `convertDesiredReplicasWithBehaviorRate`: rate limits, then [min, max] in the direction of change. */
export function convertDesiredReplicasWithBehaviorRate(state: HpaState, args: NormalizationArg, now: Seconds): Limited {
    if (args.desiredReplicas > args.currentReplicas) {
        let scaleUpLimit = calculateScaleUpLimitWithScalingRules(args.currentReplicas, state.scaleUpEvents, state.scaleDownEvents, args.scaleUpBehavior, now);
        // We shouldn't scale up further until the scaleUpEvents will be cleaned up.
        if (scaleUpLimit < args.currentReplicas) scaleUpLimit = args.currentReplicas;
        let maximumAllowedReplicas = args.maxReplicas;
        let reason: string;
        if (maximumAllowedReplicas > scaleUpLimit) {
            maximumAllowedReplicas = scaleUpLimit;
            reason = "ScaleUpLimit";
        } else {
            reason = "TooManyReplicas";
        }
        if (args.desiredReplicas > maximumAllowedReplicas) return { replicas: maximumAllowedReplicas, reason };
    } else if (args.desiredReplicas < args.currentReplicas) {
        let scaleDownLimit = calculateScaleDownLimitWithBehaviors(args.currentReplicas, state.scaleUpEvents, state.scaleDownEvents, args.scaleDownBehavior, now);
        // We shouldn't scale down further until the scaleDownEvents will be cleaned up.
        if (scaleDownLimit > args.currentReplicas) scaleDownLimit = args.currentReplicas;
        let minimumAllowedReplicas = args.minReplicas;
        let reason: string;
        if (minimumAllowedReplicas < scaleDownLimit) {
            minimumAllowedReplicas = scaleDownLimit;
            reason = "ScaleDownLimit";
        } else {
            reason = "TooFewReplicas";
        }
        if (args.desiredReplicas < minimumAllowedReplicas) return { replicas: minimumAllowedReplicas, reason };
    }
    return { replicas: args.desiredReplicas, reason: "DesiredWithinRange" };
}

/**
 * horizontal.go `stabilizeRecommendationWithBehaviors`: the current count raised to the lowest
 * recommendation newer than the up window, lowered to the highest newer than the down window;
 * records the raw recommendation (reusing one slot older than both windows).
 */
export function stabilizeRecommendationWithBehaviors(state: HpaState, args: NormalizationArg, now: Seconds): number {
    let foundOldSample = false;
    let oldSampleIndex = 0;
    let upRecommendation = args.desiredReplicas;
    const upCutoff = now - (args.scaleUpBehavior.stabilizationWindowSeconds ?? 0);
    let downRecommendation = args.desiredReplicas;
    const downCutoff = now - args.scaleDownBehavior.stabilizationWindowSeconds;
    const recs = state.recommendations ?? [];
    recs.forEach((rec, i) => {
        if (rec.timestamp > upCutoff) upRecommendation = Math.min(rec.recommendation, upRecommendation);
        if (rec.timestamp > downCutoff) downRecommendation = Math.max(rec.recommendation, downRecommendation);
        if (rec.timestamp < upCutoff && rec.timestamp < downCutoff) {
            foundOldSample = true;
            oldSampleIndex = i;
        }
    });
    // Bring the recommendation to within the upper and lower limits (stabilize).
    let recommendation = args.currentReplicas;
    if (recommendation < upRecommendation) recommendation = upRecommendation;
    if (recommendation > downRecommendation) recommendation = downRecommendation;
    // Record the unstabilized recommendation.
    const sample = { recommendation: args.desiredReplicas, timestamp: now };
    if (foundOldSample) recs[oldSampleIndex] = sample;
    else recs.push(sample);
    state.recommendations = recs;
    return recommendation;
}

/** horizontal.go `normalizeDesiredReplicasWithBehaviors` (with `maybeInitScaleDownStabilizationWindow`): stabilize first, then rate-limit and clamp. */
export function normalizeDesiredReplicasWithBehaviors(state: HpaState, behavior: Behavior, config: ControllerConfig, currentReplicas: number, prenormalizedDesiredReplicas: number, minReplicas: number, maxReplicas: number, now: Seconds): Limited {
    const { scaleUp, scaleDown } = defaultBehavior(behavior);
    const args: NormalizationArg = {
        scaleUpBehavior: scaleUp,
        scaleDownBehavior: { ...scaleDown, stabilizationWindowSeconds: scaleDown.stabilizationWindowSeconds ?? Math.trunc(config.downscaleStabilisationWindow) },
        minReplicas,
        maxReplicas,
        currentReplicas,
        desiredReplicas: prenormalizedDesiredReplicas,
    };
    args.desiredReplicas = stabilizeRecommendationWithBehaviors(state, args, now);
    return convertDesiredReplicasWithBehaviorRate(state, args, now);
}

/** horizontal.go `stabilizeRecommendation` (no behavior): the highest recommendation of the last down window. */
export function stabilizeRecommendation(state: HpaState, prenormalizedDesiredReplicas: number, downscaleStabilisationWindow: Seconds, now: Seconds): number {
    let maxRecommendation = prenormalizedDesiredReplicas;
    let foundOldSample = false;
    let oldSampleIndex = 0;
    const cutoff = now - downscaleStabilisationWindow;
    const recs = state.recommendations ?? [];
    recs.forEach((rec, i) => {
        if (rec.timestamp < cutoff) {
            foundOldSample = true;
            oldSampleIndex = i;
        } else if (rec.recommendation > maxRecommendation) {
            maxRecommendation = rec.recommendation;
        }
    });
    const sample = { recommendation: prenormalizedDesiredReplicas, timestamp: now };
    if (foundOldSample) recs[oldSampleIndex] = sample;
    else recs.push(sample);
    state.recommendations = recs;
    return maxRecommendation;
}

/** horizontal.go `calculateScaleUpLimit`. */
export function calculateScaleUpLimit(currentReplicas: number, config: Pick<ControllerConfig, "scaleUpLimitFactor" | "scaleUpLimitMinimum">): number {
    return Math.trunc(Math.max(config.scaleUpLimitFactor * currentReplicas, config.scaleUpLimitMinimum));
}

/** horizontal.go `convertDesiredReplicasWithRules` (no behavior). */
export function convertDesiredReplicasWithRules(currentReplicas: number, desiredReplicas: number, hpaMinReplicas: number, hpaMaxReplicas: number, config: Pick<ControllerConfig, "scaleUpLimitFactor" | "scaleUpLimitMinimum">): Limited {
    const minimumAllowedReplicas = hpaMinReplicas;
    // Do not scale up too much to prevent incorrect rapid increase of the number of master
    // replicas caused by bogus CPU usage report from heapster/kubelet (like in issue #32304).
    const scaleUpLimit = calculateScaleUpLimit(currentReplicas, config);
    let maximumAllowedReplicas: number;
    let reason: string;
    if (hpaMaxReplicas > scaleUpLimit) {
        maximumAllowedReplicas = scaleUpLimit;
        reason = "ScaleUpLimit";
    } else {
        maximumAllowedReplicas = hpaMaxReplicas;
        reason = "TooManyReplicas";
    }
    if (desiredReplicas < minimumAllowedReplicas) return { replicas: minimumAllowedReplicas, reason: "TooFewReplicas" };
    if (desiredReplicas > maximumAllowedReplicas) return { replicas: maximumAllowedReplicas, reason };
    return { replicas: desiredReplicas, reason: "DesiredWithinRange" };
}

/** horizontal.go `markScaleEventsOutdated`. */
function markScaleEventsOutdated(scaleEvents: TimestampedScaleEvent[], longestPolicyPeriod: number, now: Seconds): void {
    const cutoff = now - longestPolicyPeriod;
    for (const event of scaleEvents) if (event.timestamp < cutoff) event.outdated = true;
}

/** horizontal.go `getLongestPolicyPeriod`. */
function getLongestPolicyPeriod(rules: Pick<DefaultedRules, "policies">): number {
    return rules.policies.reduce((longest, p) => Math.max(longest, p.periodSeconds), 0);
}

/** horizontal.go `storeScaleEvent`: records |new - prev| in the up or down list, reusing an outdated slot. */
export function storeScaleEvent(state: HpaState, behavior: Behavior | undefined, prevReplicas: number, newReplicas: number, now: Seconds): void {
    if (behavior === undefined) return; // we should not store any event as they will not be used
    const { scaleUp, scaleDown } = defaultBehavior(behavior);
    const up = newReplicas > prevReplicas;
    const events = up ? state.scaleUpEvents : state.scaleDownEvents;
    markScaleEventsOutdated(events, getLongestPolicyPeriod(up ? scaleUp : scaleDown), now);
    let oldSampleIndex = -1;
    events.forEach((event, i) => {
        if (event.outdated) oldSampleIndex = i;
    });
    const newEvent = { replicaChange: up ? newReplicas - prevReplicas : prevReplicas - newReplicas, timestamp: now, outdated: false };
    if (oldSampleIndex >= 0) events[oldSampleIndex] = newEvent;
    else events.push(newEvent);
}

/** One metric's proposal, or the error computing it (`computeReplicasForMetric`). */
export type MetricProposal = { replicas: number; utilization?: number } | { error: string };

/**
 * horizontal.go `computeReplicasForMetrics`: the largest proposal; -1 (no scaling) when every
 * metric is invalid, or some are and the rest would scale below the spec.
 */
export function computeReplicasForMetrics(specReplicas: number, proposals: readonly MetricProposal[]): number {
    let replicas = 0;
    let invalidMetricsCount = 0;
    for (const p of proposals) {
        if ("error" in p) {
            invalidMetricsCount++;
            continue;
        }
        if (replicas === 0 || p.replicas > replicas) replicas = p.replicas;
    }
    if (invalidMetricsCount >= proposals.length || (invalidMetricsCount > 0 && replicas < specReplicas)) return -1;
    return replicas;
}

/** The result of one reconcile. */
export interface Reconciled {
    /** The replicas the HPA sets on the Deployment's scale (unchanged when it does not rescale). */
    desiredReplicas: number;
    rescale: boolean;
    /** Why (a condition reason upstream sets), e.g. `ScaleUpLimit`, `TooFewReplicas`, `FailedGetResourceMetric`. */
    reason: string;
}

/**
 * horizontal.go `reconcileAutoscaler`, the parts that decide replicas: `recordInitialRecommendation`,
 * the min/max pre-checks, `computeReplicasForMetrics`, then `normalizeDesiredReplicas` (no
 * behavior) or `normalizeDesiredReplicasWithBehaviors`, and `storeScaleEvent` on a rescale.
 * `proposals` is called only when metrics are needed. Scale to zero (alpha) is not modelled: a
 * target at 0 replicas is left alone.
 */
export function reconcileAutoscaler(spec: HpaSpec, state: HpaState, currentReplicas: number, proposals: () => MetricProposal[], now: Seconds, config: ControllerConfig = DEFAULT_CONTROLLER): Reconciled {
    // recordInitialRecommendation
    if (state.recommendations === undefined) state.recommendations = [{ recommendation: currentReplicas, timestamp: now }];
    const minReplicas = spec.minReplicas ?? 1;
    let desiredReplicas = 0;
    let reason: string;
    if (currentReplicas === 0) {
        return { desiredReplicas: 0, rescale: false, reason: "ScalingDisabled" };
    } else if (currentReplicas > spec.maxReplicas) {
        desiredReplicas = spec.maxReplicas;
        reason = "TooManyReplicas";
    } else if (currentReplicas < minReplicas) {
        desiredReplicas = minReplicas;
        reason = "TooFewReplicas";
    } else {
        const metricDesiredReplicas = computeReplicasForMetrics(currentReplicas, proposals());
        if (metricDesiredReplicas === -1) return { desiredReplicas: currentReplicas, rescale: false, reason: "FailedGetResourceMetric" };
        if (metricDesiredReplicas > desiredReplicas) desiredReplicas = metricDesiredReplicas;
        const limited = spec.behavior === undefined
            ? convertDesiredReplicasWithRules(currentReplicas, stabilizeRecommendation(state, desiredReplicas, config.downscaleStabilisationWindow, now), minReplicas, spec.maxReplicas, config)
            : normalizeDesiredReplicasWithBehaviors(state, spec.behavior, config, currentReplicas, desiredReplicas, minReplicas, spec.maxReplicas, now);
        desiredReplicas = limited.replicas;
        reason = limited.reason;
    }
    const rescale = desiredReplicas !== currentReplicas;
    if (rescale) storeScaleEvent(state, spec.behavior, currentReplicas, desiredReplicas, now);
    return { desiredReplicas, rescale, reason };
}
