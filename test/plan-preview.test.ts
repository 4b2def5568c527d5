// The autoscaling preview of `npm run plan`: the load file, pod start-up from the probes, CPU
// sharing, the simulation (scripts/plan/simulate.ts) and the picture (svg.ts).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it, vi } from "vitest";
import { settingsFromConfig } from "../components/config";
import { runUnderMocks } from "../scripts/mocks";
import { type CapacityModel, eksNodeShape, instanceType, PlanInputError } from "../scripts/plan/capacity";
import { declaredStack, type DeclaredService, withHost } from "../scripts/plan/declared";
import { parseLoad, ratePerSecond } from "../scripts/plan/load";
import { EKS_ADDON_PODS } from "../scripts/plan/platform-pods";
import { neededReplicas, readCalibration, summarize } from "../scripts/plan/report";
import { DEFAULT_SIM, readyDelay, type ServiceCost, shareCpu, simulate, type SimService } from "../scripts/plan/simulate";
import { planSvg } from "../scripts/plan/svg";
import { stackConfig } from "../scripts/stack-files";

const SERVICES = ["backend", "messages", "reports"];

describe("load file", () => {
    const bad = (text: string) => {
        try {
            parseLoad("load.yaml", text, SERVICES);
        } catch (e) {
            expect(e).toBeInstanceOf(PlanInputError);
            return (e as Error).message;
        }
        throw new Error("expected a PlanInputError");
    };

    it("takes the issue's example", () => {
        const load = parseLoad("load.yaml", "{ duration: 900, services: { backend: [{ at: 0, rps: 50 }, { at: 60, rps: 800 }, { at: 600, rps: 50 }] } }", SERVICES);
        expect(load).toMatchObject({ duration: 900, shape: "step", services: { backend: [{ at: 0, rps: 50 }, { at: 60, rps: 800 }, { at: 600, rps: 50 }] } });
    });

    it("names an unknown service and the allowed ones", () => {
        expect(bad("{ duration: 60, services: { frontend: [{ at: 0, rps: 1 }] } }")).toBe('load.yaml: services.frontend: "frontend" is not a service of this stack (allowed: backend, messages, reports)');
    });

    it("refuses a negative rate, one line", () => {
        expect(bad("{ duration: 60, services: { backend: [{ at: 0, rps: -5 }] } }")).toBe("load.yaml: services.backend[0].rps: -5 must be at least 0 (requests per second)");
    });

    it("refuses times out of order", () => {
        expect(bad("{ duration: 900, services: { backend: [{ at: 0, rps: 1 }, { at: 60, rps: 2 }, { at: 30, rps: 3 }] } }")).toBe("load.yaml: services.backend[2].at: 30 is not after the point before it (at 60); points must be in increasing time order");
    });

    it("refuses a point past the duration, an unknown key, a missing duration and text that is not YAML", () => {
        expect(bad("{ duration: 60, services: { backend: [{ at: 60, rps: 1 }] } }")).toBe("load.yaml: services.backend[0].at: 60 is not before duration 60");
        expect(bad("{ duration: 60, servics: {} }")).toBe("load.yaml: servics: is not a known key");
        expect(bad("{ services: {} }")).toBe("load.yaml: duration: (missing) is not a number of seconds");
        expect(bad("duration: [1, 2")).toMatch(/^load\.yaml: is not YAML \(/);
        expect(bad("{ duration: 60, calibration: { backend: { memory: lots } } }")).toBe('load.yaml: calibration.backend.memory: "lots" is not a memory quantity (e.g. 90Mi)');
    });

    it("refuses a calibration file that is missing or not JSON, one line naming it", () => {
        const dir = mkdtempSync(join(tmpdir(), "kubeforge-calibration-"));
        const missing = join(dir, "calibration.json");
        expect(() => readCalibration(missing)).toThrow(new PlanInputError(`${missing}: cannot read the calibration (ENOENT: no such file or directory, open '${missing}'); run npm run bench:services`));
        const broken = join(dir, "broken.json");
        writeFileSync(broken, '{"services": {');
        expect(() => readCalibration(broken)).toThrow(PlanInputError);
        expect(() => readCalibration(broken)).toThrow(new RegExp(`^${broken.replace(/[.]/g, "\\.")}: is not JSON \\([^\n]*\\)$`));
    });

    it("holds each rate until the next point, or ramps linearly", () => {
        const points = [{ at: 2, rps: 10 }, { at: 4, rps: 30 }];
        expect([...ratePerSecond(points, 6, "step")]).toEqual([0, 0, 10, 10, 30, 30]);
        expect([...ratePerSecond(points, 6, "linear")]).toEqual([0, 0, 10, 20, 30, 30]);
    });
});

describe("pod start-up and CPU", () => {
    // components/microservice.ts probes(): startup every 2 s, readiness every 5 s, one success.
    const startup = { initialDelaySeconds: 0, periodSeconds: 2, successThreshold: 1, failureThreshold: 30 };
    const readiness = { initialDelaySeconds: 0, periodSeconds: 5, successThreshold: 1, failureThreshold: 2 };

    it("is Ready at the first startup probe after the app answers, readiness running at once (prober_manager.go UpdatePodStatus)", () => {
        expect(readyDelay(startup, readiness, 0.5)).toBe(2);
        expect(readyDelay(startup, readiness, 3.1)).toBe(4);
        // Without a startup probe, the readiness ticker: 0, 5, 10 ...
        expect(readyDelay(undefined, readiness, 0.5)).toBe(5);
        expect(readyDelay(undefined, { ...readiness, successThreshold: 3 }, 0.5)).toBe(15);
        expect(readyDelay(undefined, undefined, 0.5)).toBe(0.5);
    });

    it("shares a short CPU pool by request, never giving a pod more than it asks", () => {
        expect(shareCpu([100, 500, 500], [100, 100, 100], 2000)).toEqual([100, 500, 500]);
        expect(shareCpu([100, 500, 500], [100, 100, 100], 600)).toEqual([100, 250, 250]);
        expect(shareCpu([1000, 1000], [100, 300], 800)).toEqual([200, 600]);
    });

    it("needs ceil(rps x cost / (target x request - idle)) replicas, within min and max", () => {
        const s = { requests: { cpu: 100, memory: 0 }, cost: { cpuPerRequest: 0.5, idleCpu: 2, memory: 0, maxCpu: 1000, startSeconds: 0 } };
        // 800 x 0.5 = 400m; 70 % of 100m less 2m idle = 68m a pod: 5.9 -> 6.
        expect(neededReplicas(800, s, 70, 3, 10)).toBe(6);
        expect(neededReplicas(50, s, 70, 3, 10)).toBe(3);
        expect(neededReplicas(5000, s, 70, 3, 10)).toBe(10);
    });
});

const COST: ServiceCost = { cpuPerRequest: 0.5, idleCpu: 2, memory: 100 * 2 ** 20, maxCpu: 1000, startSeconds: 0.5 };

async function declaredOf(stack: string) {
    const config = stackConfig(stack);
    vi.resetModules();
    const run = await runUnderMocks(stack, config, () => import("../index"));
    return declaredStack(run.resources, settingsFromConfig(config, "kubeforge", stack));
}

function simServices(services: readonly DeclaredService[], load: Record<string, { at: number; rps: number }[]>, duration: number): SimService[] {
    return services.map((s) => ({ ...s, cost: COST, rps: ratePerSecond(load[s.name] ?? [], duration, "step") }));
}

describe("the preview of the stacks", () => {
    it("prod: load on backend alone grows backend alone; messages and reports stay at their minimum", async () => {
        const d = await declaredOf("prod");
        const services = simServices(d.services, { backend: [{ at: 0, rps: 50 }, { at: 60, rps: 800 }, { at: 600, rps: 50 }] }, 900);
        const result = simulate(withHost(d.capacity, undefined), services, { ...DEFAULT_SIM, duration: 900 });
        const [backend, messages, reports] = result.services;
        expect(result.services.map((s) => s.name)).toEqual(["backend", "messages", "reports"]);
        expect(backend?.series).toHaveLength(900);
        const peak = Math.max(...(backend?.series.map((p) => p.desiredReplicas) ?? []));
        // 800 x 0.5 ms = 400m over pods at 70 % of 100m (less 2m idle): 6 replicas.
        expect(peak).toBe(6);
        for (const s of [messages, reports]) {
            expect(new Set(s?.series.map((p) => p.desiredReplicas))).toEqual(new Set([3]));
            expect(new Set(s?.series.map((p) => p.readyReplicas))).toEqual(new Set([3]));
        }
        // Before the spike backend is at its min; the HPA reacts only after metrics-server's next
        // 15 s window: the first scale-up is at a sync after t = 60 + 15.
        const firstUp = backend?.series.find((p) => p.desiredReplicas > 3)?.t ?? -1;
        expect(firstUp).toBeGreaterThanOrEqual(75);
        expect(firstUp).toBeLessThanOrEqual(95);
        expect(firstUp % 15).toBe(5);
        // Scale-down waits for the 300 s window after the load drops at 600.
        const after = backend?.series.filter((p) => p.t > 600 && p.t < 900) ?? [];
        expect(after.every((p) => p.desiredReplicas === 6 || p.t >= 900)).toBe(true);
        const summary = summarize(backend!, services[0]!);
        expect(summary).toMatchObject({ neededPeak: 6, wantedPeak: 6, peakDesired: 6, peakReady: 6, peakPending: 0, shortAtEnd: false });
        expect(summary.shortSeconds).toBeGreaterThan(15);
        expect(summary.shortSeconds).toBeLessThan(45);
    });

    it("kind: one Docker host for every pod; no node is ever added", async () => {
        const d = await declaredOf("dev");
        const host = { cpus: 2, memoryBytes: 8 * 2 ** 30, source: "test" };
        const services = simServices(d.services, { backend: [{ at: 0, rps: 3000 }] }, 300);
        const result = simulate(withHost(d.capacity, host), services, { ...DEFAULT_SIM, duration: 300 });
        expect(new Set(result.cluster.map((c) => c.nodes))).toEqual(new Set([2]));
        const backend = result.services[0];
        // 3000 x 0.5 ms = 1500m: at max 5 the host's 2000m is shared with the other pods' idle CPU, short of nothing here,
        // but 5 pods at 70 % of 100m cannot hold 1500m: the HPA goes to its max and stays there.
        expect(Math.max(...(backend?.series.map((p) => p.desiredReplicas) ?? []))).toBe(5);
        expect(backend?.series.at(-1)?.cpuUtilization).toBeGreaterThan(200);
    });
});

describe("the preview on a small EKS cluster (hand-made)", () => {
    // One m6i.large group per zone, 1 node each, up to 2: 1780m free a node after the DaemonSets.
    const shape = eksNodeShape(instanceType("m6i.large"));
    const model: CapacityModel = {
        flavour: "eks",
        services: [],
        platform: [],
        daemonSets: [EKS_ADDON_PODS["vpc-cni"]?.daemonSet, EKS_ADDON_PODS["kube-proxy"]?.daemonSet].flatMap((x) => (x ? [x] : [])),
        controlPlane: [],
        nodeGroups: ["a", "b", "c"].map((z, i) => ({ name: `ng-${i}`, zone: z, minSize: 1, maxSize: 2, shape, instanceTypes: ["m6i.large"] })),
    };
    const api: SimService = {
        name: "api",
        requests: { cpu: 500, memory: 0 },
        hpa: { minReplicas: 3, maxReplicas: 12, metrics: [{ resource: "cpu", averageUtilization: 70 }], behavior: { scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: "Max", policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] } } },
        zoneSpread: true,
        preStopSeconds: 5,
        cost: { ...COST, cpuPerRequest: 1 },
        rps: ratePerSecond([{ at: 0, rps: 100 }, { at: 30, rps: 6000 }], 600, "step"),
    };

    it("leaves pods Pending when the nodes are full, until the autoscaler's nodes are Ready, up to maxSize", () => {
        // 6000 rps x 1 ms = 6000m: at 348m a pod (70 % of 500m, less 2m idle) the HPA wants 18, max 12;
        // 3 nodes hold 3 x 3 = 9 (1780m / 500m), so 3 stay Pending until the autoscaler's nodes are
        // Ready; it adds a node in each zone (2 a zone at most): 6 nodes, 18 pod slots.
        const result = simulate(model, [api], { ...DEFAULT_SIM, duration: 600, nodeProvisionSeconds: 120 });
        const s = result.services[0]!;
        expect(Math.max(...s.series.map((p) => p.desiredReplicas))).toBe(12);
        const pendingFrom = s.series.find((p) => p.pendingPods > 0)?.t ?? -1;
        expect(pendingFrom).toBeGreaterThan(30);
        // The autoscaler scans every 10 s; its nodes are Ready 120 s later, then the pending pods start.
        const grown = result.cluster.find((c) => c.nodes > 3)?.t ?? -1;
        expect(grown - pendingFrom).toBeGreaterThanOrEqual(120);
        expect(grown - pendingFrom).toBeLessThanOrEqual(131);
        expect(Math.max(...result.cluster.map((c) => c.nodes))).toBe(6);
        expect(s.series.at(-1)).toMatchObject({ desiredReplicas: 12, readyReplicas: 12, pendingPods: 0 });
        expect(summarize(s, api).saturatedSeconds).toBeGreaterThan(0);
    });

    it("draws a well-formed SVG with one panel per service, names escaped", () => {
        const other: SimService = { ...api, name: "a&b<c>", rps: ratePerSecond([{ at: 0, rps: 10 }], 120, "step") };
        const result = simulate(model, [{ ...api, rps: api.rps.slice(0, 120) }, other], { ...DEFAULT_SIM, duration: 120 });
        const svg = planSvg("test", result);
        expect(XMLValidator.validate(svg)).toBe(true);
        const doc = new XMLParser({ ignoreAttributes: false }).parse(svg) as { svg: { g: { "@_data-service": string }[] } };
        expect(doc.svg.g.map((g) => g["@_data-service"])).toEqual(["api", "a&b<c>"]);
        expect(svg).toContain("a&amp;b&lt;c&gt;");
    });
});

describe("the declared HPA", () => {
    it("reads behavior tolerances, Quantities in the API (KEP-4951), as fractions", () => {
        const settings = settingsFromConfig(stackConfig("dev"), "kubeforge", "dev");
        const resource = (type: string, inputs: Record<string, unknown>) => ({ type, name: "x", parent: null, inputs, options: {} as never, custom: true, urn: "" });
        const d = declaredStack([
            resource("kubernetes:apps/v1:Deployment", { metadata: { name: "backend" }, spec: { template: { spec: { containers: [{ name: "backend", resources: { requests: { cpu: "100m", memory: "256Mi" } } }] } } } }),
            resource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", { spec: { scaleTargetRef: { name: "backend" }, minReplicas: 2, maxReplicas: 4, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } }], behavior: { scaleUp: { tolerance: "50m" }, scaleDown: { tolerance: "0.2" } } } }),
            resource("kubernetes:apps/v1:StatefulSet", { metadata: { name: "valkey" }, spec: { replicas: 1, template: { spec: { containers: [{ name: "valkey", resources: { requests: { cpu: "200m", memory: "128Mi" } } }] } } } }),
        ], settings);
        expect(d.services[0]?.hpa).toEqual({ minReplicas: 2, maxReplicas: 4, metrics: [{ resource: "cpu", averageUtilization: 60 }], behavior: { scaleUp: { tolerance: 0.05 }, scaleDown: { tolerance: 0.2 } } });
        // Another workload the program declares counts as platform pods, with its own requests.
        expect(d.capacity.platform.find((p) => p.name === "valkey")).toMatchObject({ replicas: 1, requests: { cpu: 200, memory: 128 * 2 ** 20 } });
    });
});
