// Capacity of `npm run plan` (scripts/plan/capacity.ts, declared.ts, platform-pods.ts) against
// hand-computed cases: the AL2023 node formulas, one instance type, the prod stack, kind.
import { describe, expect, it, vi } from "vitest";
import { clusterAutoscalerChart, LOAD_BALANCER_CONTROLLER_CHART } from "../components/cluster/eks/controllers";
import { CLUSTER_AUTOSCALER_RELEASES } from "../components/cluster/eks/values";
import { settingsFromConfig } from "../components/config";
import { METRICS_SERVER_CHART } from "../components/platform";
import { runUnderMocks } from "../scripts/mocks";
import {
    capacityVerdict,
    type CapacityModel,
    eksKubeReservedCpu,
    eksKubeReservedMemoryMi,
    eksMaxPods,
    eksNodeShape,
    instanceType,
    type NodeGroupModel,
    nodeGroupShape,
    PlanInputError,
} from "../scripts/plan/capacity";
import { declaredStack, withHost } from "../scripts/plan/declared";
import { EKS_ADDON_PODS, HELM_CHART_PODS, helmReleasePods, KIND_SYSTEM_PODS } from "../scripts/plan/platform-pods";
import { stackConfig } from "../scripts/stack-files";
import { withOverrides } from "./harness";

const MI = 2 ** 20;

/** The declared stack of a stack file (with config overrides), from the real program under mocks. */
async function declared(stack: string, overrides: Record<string, unknown> = {}) {
    const config = withOverrides(stackConfig(stack), overrides);
    vi.resetModules();
    const run = await runUnderMocks(stack, config, () => import("../index"));
    return declaredStack(run.resources, settingsFromConfig(config, "kubeforge", stack));
}

describe("EKS AL2023 nodes (awslabs/amazon-eks-ami v20260724 nodeadm/internal/kubelet)", () => {
    // eni_max_pods.go calculateStandardMaxPods; config.go getCPUMillicoresToReserve,
    // getMemoryMebibytesToReserve and EvictionHard memory.available 100Mi. The rows are the
    // research's hand-computed table (/work/research/hpa-capacity.md §5).
    const rows: [string, number, number, number, number, number][] = [
        // type, maxPods, kube-reserved CPU (m), allocatable CPU (m), kube-reserved memory (Mi), allocatable memory (MiB)
        ["m6i.large", 29, 70, 1930, 574, 7518],
        ["m6i.xlarge", 58, 80, 3920, 893, 15391],
        ["m6i.2xlarge", 58, 90, 7910, 893, 31775],
        ["m7g.large", 29, 70, 1930, 574, 7518],
        ["c6i.large", 29, 70, 1930, 574, 3422],
        ["t3.medium", 17, 70, 1930, 442, 3554],
        ["t3.large", 35, 70, 1930, 640, 7452],
        ["m5.large", 29, 70, 1930, 574, 7518],
    ];
    for (const [type, pods, cpuReserved, cpu, memReserved, mem] of rows) {
        it(`${type}: maxPods ${pods}, ${cpu}m and ${mem} MiB allocatable`, () => {
            const t = instanceType(type);
            expect(eksMaxPods(t)).toBe(pods);
            expect(eksKubeReservedCpu(t.vcpu * 1000)).toBe(cpuReserved);
            expect(eksKubeReservedMemoryMi(pods)).toBe(memReserved);
            expect(eksNodeShape(t)).toEqual({ allocatable: { cpu, memory: mem * MI }, pods });
        });
    }

    it("pins the table's rows to their sources (instance-info.jsonl; cluster-autoscaler-1.35.2 ec2_instance_types.go)", () => {
        expect(instanceType("m6i.large")).toEqual({ vcpu: 2, memoryMiB: 8192, architecture: "amd64", defaultMaxENIs: 3, ipv4AddressesPerInterface: 10 });
        expect(instanceType("t3.large")).toMatchObject({ vcpu: 2, memoryMiB: 8192, defaultMaxENIs: 3, ipv4AddressesPerInterface: 12 });
        expect(instanceType("m7g.xlarge")).toMatchObject({ vcpu: 4, memoryMiB: 16384, architecture: "arm64", defaultMaxENIs: 4, ipv4AddressesPerInterface: 15 });
    });

    it("reserves 0.25 % above four cores: 16 vCPU keep 60 + 10 + 10 + 30 = 110m", () => {
        expect(eksKubeReservedCpu(16000)).toBe(110);
        expect(eksKubeReservedCpu(3000)).toBe(75);
    });

    it("caps max pods at 110 below 30 vCPUs (EKS managed node groups without a custom AMI)", () => {
        expect(eksMaxPods({ vcpu: 16, memoryMiB: 1, architecture: "amd64", defaultMaxENIs: 8, ipv4AddressesPerInterface: 30 })).toBe(110);
        expect(eksMaxPods({ vcpu: 48, memoryMiB: 1, architecture: "amd64", defaultMaxENIs: 15, ipv4AddressesPerInterface: 50 })).toBe(250);
    });

    it("plans a node group of several types with the smallest of each", () => {
        expect(nodeGroupShape(["t3.large", "m6i.large"])).toEqual({ allocatable: { cpu: 1930, memory: 7452 * MI }, pods: 29 });
    });

    it("names the key and the supported types for an instance type it does not know", () => {
        expect(() => instanceType("z9.huge")).toThrow(PlanInputError);
        expect(() => instanceType("z9.huge")).toThrow(/^kubeforge:cluster\.eks\.nodes\.instanceTypes: "z9\.huge" is not an instance type the plan knows \(supported: c5\.large, .*m6i\.large.*\)/);
    });
});

describe("platform pods", () => {
    it("takes replicas and requests from the program's Helm values over the chart's defaults", () => {
        expect(helmReleasePods("metrics-server", { replicas: 2, resources: { requests: { cpu: "50m", memory: "64Mi" } } })).toMatchObject({ replicas: 2, requests: { cpu: 50, memory: 64 * MI } });
        // kubernetes-sigs/metrics-server metrics-server-helm-chart-3.13.1 charts/metrics-server/values.yaml: replicas 1, requests 100m / 200Mi.
        expect(helmReleasePods("metrics-server", {})).toMatchObject({ replicas: 1, requests: { cpu: 100, memory: 200 * MI } });
        // aws/eks-charts chart 3.5.0 stable/aws-load-balancer-controller/values.yaml: replicaCount 2, resources {}.
        expect(helmReleasePods("aws-load-balancer-controller", {})).toMatchObject({ replicas: 2, requests: { cpu: 0, memory: 0 } });
        // kubernetes/autoscaler cluster-autoscaler-chart-9.59.0 cluster-autoscaler/charts/cluster-autoscaler/values.yaml: replicaCount 1, resources {}.
        expect(helmReleasePods("cluster-autoscaler", {})).toMatchObject({ replicas: 1, requests: { cpu: 0, memory: 0 } });
        expect(helmReleasePods("some-chart", {})).toBeUndefined();
    });

    it("reads each chart's defaults at the version the program pins (a chart bump re-reads its values.yaml here)", () => {
        expect(HELM_CHART_PODS["metrics-server"]?.source).toContain(`metrics-server-helm-chart-${METRICS_SERVER_CHART.version} `);
        for (const kubernetesVersion of Object.keys(CLUSTER_AUTOSCALER_RELEASES)) {
            expect(HELM_CHART_PODS["cluster-autoscaler"]?.source).toContain(`cluster-autoscaler-chart-${clusterAutoscalerChart(kubernetesVersion).version} `);
        }
        expect(HELM_CHART_PODS["aws-load-balancer-controller"]?.source).toContain(`chart ${LOAD_BALANCER_CONTROLLER_CHART.version} `);
    });
});

/** m6i.large node groups, one per zone. */
function groups(maxSizes: number[], minSize = 1): NodeGroupModel[] {
    return maxSizes.map((maxSize, i) => ({ name: `ng-${i}`, zone: `zone-${"abc"[i]}`, minSize, maxSize, shape: eksNodeShape(instanceType("m6i.large")), instanceTypes: ["m6i.large"] }));
}

const eksDaemonSets = [EKS_ADDON_PODS["vpc-cni"]?.daemonSet, EKS_ADDON_PODS["kube-proxy"]?.daemonSet].flatMap((d) => (d ? [d] : []));

describe("capacity, EKS, one instance type (hand-computed)", () => {
    it("at max, backend's last 3 pods stay Pending because 9 m6i.large nodes hold only 7 of its 10", () => {
        // Each node: 1930m allocatable - 150m of DaemonSets (aws-node 50m, kube-proxy 100m) = 1780m.
        // Two 1000m platform pods take 1000m on two of the three first nodes; a 1000m backend pod then
        // fits only on an empty node: the third first node, and one new node per zone until each
        // group is at 3. 9 nodes - 2 with a platform pod = 7 backend pods; 3 stay Pending.
        const model: CapacityModel = {
            flavour: "eks",
            services: [{ name: "backend", requests: { cpu: 1000, memory: 256 * MI }, minReplicas: 3, maxReplicas: 10, zoneSpread: true }],
            platform: [{ name: "big", replicas: 2, requests: { cpu: 1000, memory: 0 }, source: "test" }],
            daemonSets: eksDaemonSets,
            controlPlane: [],
            nodeGroups: groups([3, 3, 3]),
        };
        const v = capacityVerdict(model);
        expect(v.fits).toBe(false);
        expect(v.lines).toContain("at max, backend's last 3 pods stay Pending because the node groups' maxSize of 9 (3 + 3 + 3 over 3 zones) holds only 7 of its 10 (no node has 1000m CPU unrequested (1930m allocatable per node))");
        // At min the autoscaler adds a node in two zones: 5 nodes; 5 x 150m + 2 x 1000m + 3 x 1000m = 5750m.
        expect(v.lines[0]).toBe("at min, every service fits: 3 backend on 5 nodes (2 + 2 + 1; maxSize 9), requesting 5750m of 9650m allocatable CPU");
    });

    it("says when the hard zone spread, not room, keeps a pod Pending", () => {
        // 800m pods, two per node (1600m of 1780m). Zone a may have 1 node, b and c 3. Pods 1-6
        // fill a0, b0, c0 two each; 7 goes to a new node in b, 8 to one in c (spread: a has 2,
        // b 3, c 2 -> a or c); 9 may go only to a (a 2, b 3, c 3), which is full and at its max.
        const model: CapacityModel = {
            flavour: "eks",
            services: [{ name: "backend", requests: { cpu: 800, memory: 0 }, minReplicas: 1, maxReplicas: 9, zoneSpread: true }],
            platform: [],
            daemonSets: eksDaemonSets,
            controlPlane: [],
            nodeGroups: groups([1, 3, 3]),
        };
        const v = capacityVerdict(model);
        expect(v.lines).toContain("at max, backend's last pod stays Pending because the node groups' maxSize of 7 (1 + 3 + 3 over 3 zones) holds only 8 of its 9 (the hard zone spread (maxSkew 1) allows only zones without room)");
    });
});

describe("capacity of the stacks, from what the program declares", () => {
    it("prod: every service fits at min and at max on its three m6i.large/m7i.large nodes", async () => {
        const d = await declared("prod");
        expect(d.notes).toEqual([]);
        expect(d.capacity.nodeGroups.map((g) => [g.zone, g.minSize, g.maxSize, g.shape.allocatable.cpu, g.shape.pods])).toEqual([
            ["eu-west-1a", 1, 3, 1930, 29], ["eu-west-1b", 1, 3, 1930, 29], ["eu-west-1c", 1, 3, 1930, 29],
        ]);
        // Per node 150m of DaemonSets; platform: CoreDNS 2 x 100m, metrics-server 2 x 50m (the
        // program's values), Cluster Autoscaler 100m (the program's values), LB controller 2 x 0 = 400m.
        // At min: 450 + 400 + 3 x 100 + 3 x 100 + 3 x 250 = 2200m; at max: 450 + 400 + 10 x (100 + 100 + 250) = 5350m, of 3 x 1930m.
        const v = capacityVerdict(withHost(d.capacity, undefined));
        expect(v.fits).toBe(true);
        expect(v.lines).toEqual([
            "at min, every service fits: 3 backend, 3 messages, 3 reports on 3 nodes (1 + 1 + 1; maxSize 9), requesting 2200m of 5790m allocatable CPU",
            "at max, every service fits: 10 backend, 10 messages, 10 reports on 3 nodes (1 + 1 + 1; maxSize 9), requesting 5350m of 5790m allocatable CPU",
        ]);
    });

    it("prod: a reports max of 60 grows the node groups to their maxSize and leaves reports Pending", async () => {
        const d = await declared("prod", { "kubeforge:services": { reports: { replicas: { min: 3, max: 60 } } } });
        const v = capacityVerdict(withHost(d.capacity, undefined));
        expect(v.fits).toBe(false);
        // 9 nodes x (1930m - 150m of DaemonSets) = 16020m - 400m platform - 10 x 100m backend - 10 x 100m
        // messages = 13620m for reports: at most 54 pods of 250m, fewer where a node's rest is below 250m.
        const max = v.scenarios.find((r) => r.scenario === "max");
        expect([...(max?.counts.values() ?? [])]).toEqual([3, 3, 3]);
        const placed = max?.placed.get("reports") ?? 0;
        expect(placed).toBeLessThanOrEqual(54);
        expect(placed).toBeGreaterThan(40);
        expect(v.lines).toContain(`at max, reports's last ${60 - placed} pods stay Pending because the node groups' maxSize of 9 (3 + 3 + 3 over 3 zones) holds only ${placed} of its 60 (no node has 250m CPU unrequested (1930m allocatable per node))`);
        expect(v.lines.filter((l) => /^at max, (backend|messages)'s/.test(l))).toEqual([]);
    });

    it("kind (dev): the Docker host is shared; at max the pods request more CPU than 2 host CPUs", async () => {
        const d = await declared("dev");
        // kindnet 100m on each of 3 nodes; control plane 250 + 200 + 100 + 100 (etcd); CoreDNS 2 x 100m,
        // metrics-server 2 x 50m; the in-cluster store (a StatefulSet the program declares) 100m and
        // 256Mi; services at min 100 + 100 + 250, at max 5 x (100 + 100 + 250).
        const host = { cpus: 2, memoryBytes: 24 * 2 ** 30, source: "test" };
        const v = capacityVerdict(withHost(d.capacity, host));
        expect(KIND_SYSTEM_PODS.controlPlane.reduce((n, p) => n + p.requests.cpu, 0)).toBe(650);
        expect(v.lines[0]).toBe("at min, every service fits: the pods request 1800m CPU and 1.5Gi memory of the Docker host's 2000m and 24.0Gi (test)");
        expect(v.lines[1]).toBe("at max, the pods request 3600m CPU and 4.5Gi memory of the Docker host's 2000m and 24.0Gi (test): kind's 3 nodes each report the whole host, so the scheduler places them, but they share its 2 CPUs and get less than they request");
        expect(v.fits).toBe(false);
        expect(capacityVerdict(withHost(d.capacity, { ...host, cpus: 4 })).fits).toBe(true);
    });
});
