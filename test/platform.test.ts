/**
 * The platform add-ons every flavour gets: the metrics-server chart, its pinned version and the
 * values kubeforge sets, held against the chart's own files at that version.
 */
import { describe, expect, it } from "vitest";
import { KIND_NODE_IMAGE } from "../components/cluster/kind/config";
import { parseSettings } from "../components/config";
import { nodeImageMinor } from "../components/prerequisites";
import { METRICS_SERVER_CHART, metricsServerValues } from "../components/platform";
import { at, runStack } from "./harness";

/**
 * kubernetes-sigs/metrics-server at tag metrics-server-helm-chart-3.13.1:
 * - charts/metrics-server/Chart.yaml: `version: 3.13.1`, `appVersion: 0.8.1` (the image tag defaults to v<appVersion>);
 * - README.md at v0.8.1, "Compatibility Matrix": `0.8.x | metrics.k8s.io/v1beta1 | 1.31+`;
 * - values.yaml: `replicas`, `args: []` (rendered after `defaultArgs` by templates/deployment.yaml),
 *   `podDisruptionBudget.enabled/maxUnavailable`, `resources`, and `tls.type: "metrics-server"`
 *   (its own self-signed certificate, so no Secret or cert-manager is needed);
 * - cmd/metrics-server/app/options/kubelet_client.go at v0.8.1 still defines `--kubelet-insecure-tls`.
 */
const CHART = { version: "3.13.1", minKubernetesMinor: 31 };
const VALUES_KEYS = ["args", "replicas", "podDisruptionBudget", "resources"];

describe("metrics-server", () => {
    it("is the pinned chart, which deploys metrics-server v0.8.1", () => {
        expect(METRICS_SERVER_CHART).toEqual({ chart: "metrics-server", version: CHART.version, repo: "https://kubernetes-sigs.github.io/metrics-server/" });
    });

    it("sets only values the chart has", () => {
        for (const insecure of [true, false]) expect(Object.keys(metricsServerValues(insecure)).sort()).toEqual([...VALUES_KEYS].sort());
        expect(metricsServerValues(true).args).toEqual(["--kubelet-insecure-tls"]);
        expect(metricsServerValues(false).args).toEqual([]);
        expect(at(metricsServerValues(false), "podDisruptionBudget")).toEqual({ enabled: true, maxUnavailable: 1 });
    });

    it("runs on every stack's Kubernetes version (0.8.x supports 1.31 and later)", () => {
        expect(nodeImageMinor(KIND_NODE_IMAGE)).toBeGreaterThanOrEqual(CHART.minKubernetesMinor);
        // The EKS flavour's supported minors (kubernetesVersion: 1.35 or 1.36).
        for (const version of ["1.35", "1.36"]) {
            const settings = parseSettings({ cluster: { flavour: "eks", eks: { kubernetesVersion: version, adminPrincipalArn: "arn:aws:iam::123456789012:role/admin" } } }, "kubeforge", "staging", { awsRegion: "eu-west-1" });
            expect(Number(settings.cluster.eks.kubernetesVersion.split(".")[1])).toBeGreaterThanOrEqual(CHART.minKubernetesMinor);
        }
    });

    it("is installed by every stack from that chart", async () => {
        const p = await runStack("dev");
        const release = p.named("kubernetes:helm.sh/v3:Release", "platform-metrics-server");
        expect(release.inputs).toMatchObject({ chart: "metrics-server", version: CHART.version, repositoryOpts: { repo: METRICS_SERVER_CHART.repo } });
    });
});
