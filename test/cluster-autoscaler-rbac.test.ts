/**
 * The Cluster Autoscaler chart and image kubeforge pairs per Kubernetes minor must agree: the
 * chart's ClusterRole and Role have to grant every list, watch and write the autoscaler makes at
 * its tag. The autoscaler blocks until every informer has synced (1.35.2 main.go:291, 1.36.1
 * builder/autoscaler.go:322) and its liveness endpoint stays healthy meanwhile, so one missing
 * rule is a cluster that never scales, with no error anywhere. Both sides are data fixtures read
 * upstream (test/fixtures/cluster-autoscaler/: needs.json from the autoscaler's source at each
 * tag, every entry with its file:line; chart-rbac.json from the chart's templates at each tag).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { clusterAutoscalerChart, clusterAutoscalerImage, clusterAutoscalerValues } from "../components/cluster/eks/controllers";
import { CLUSTER_AUTOSCALER_RELEASES } from "../components/cluster/eks/values";

/** One RBAC rule, as a ClusterRole or Role lists it. */
interface PolicyRule {
    apiGroups: string[];
    resources: string[];
    verbs: string[];
    resourceNames?: string[];
}

/** Something the autoscaler does against the API: verbs on a resource, cluster-wide or in its own namespace. */
interface Need {
    apiGroup: string;
    resource: string;
    verbs: string[];
    /** Only in the autoscaler's namespace (a Role may grant it); default cluster-wide. */
    scope?: "namespace";
    /** Only this object (a rule with resourceNames may grant it). */
    resourceName?: string;
    /** Where upstream the autoscaler does it. */
    source: string;
}

const FIXTURES = join(__dirname, "fixtures", "cluster-autoscaler");
const needsFixture = JSON.parse(readFileSync(join(FIXTURES, "needs.json"), "utf8")) as { releases: Record<string, { tag: string; needs: Need[]; flags: { name: string; source: string }[] }> };
const chartFixture = JSON.parse(readFileSync(join(FIXTURES, "chart-rbac.json"), "utf8")) as { charts: Record<string, { tag: string; clusterRole: PolicyRule[]; role: PolicyRule[] }> };

/**
 * Whether one rule grants a verb on a need's resource, the way the RBAC authorizer matches
 * (kubernetes/kubernetes pkg/apis/rbac/v1/evaluation_helpers.go, RuleAllows and its helpers, read
 * from an indexed copy of unknown version: API group, resource and verb each listed or `*`; a rule
 * with resourceNames grants only requests naming one of them, so never a create, whose request
 * has no name).
 */
function ruleGrants(rule: PolicyRule, need: Need, verb: string): boolean {
    const has = (list: string[] | undefined, value: string) => (list ?? []).some((v) => v === value || v === "*");
    if (!has(rule.apiGroups, need.apiGroup) || !has(rule.resources, need.resource) || !has(rule.verbs, verb)) return false;
    const names = rule.resourceNames ?? [];
    return names.length === 0 || (need.resourceName !== undefined && names.includes(need.resourceName));
}

/** `group/resource verb (source)` for every verb of every need that no rule grants; a Role's rules count only in the autoscaler's namespace. */
function ungranted(needs: Need[], chart: { clusterRole: PolicyRule[]; role: PolicyRule[] }): string[] {
    const missing: string[] = [];
    for (const need of needs) {
        const rules = need.scope === "namespace" ? [...chart.clusterRole, ...chart.role] : chart.clusterRole;
        for (const verb of need.verbs) {
            if (!rules.some((r) => ruleGrants(r, need, verb))) missing.push(`${need.apiGroup || "core"}/${need.resource}${need.resourceName ? `/${need.resourceName}` : ""} ${verb} (${need.source})`);
        }
    }
    return missing;
}

describe("Cluster Autoscaler chart and image, paired per Kubernetes minor", () => {
    it.each(Object.keys(CLUSTER_AUTOSCALER_RELEASES))("Kubernetes %s: the pinned chart grants everything the pinned autoscaler lists, watches and writes", (minor) => {
        const version = clusterAutoscalerChart(minor).version;
        const tag = clusterAutoscalerImage(minor).tag.split("@")[0] ?? "";
        const chart = chartFixture.charts[version];
        const release = needsFixture.releases[tag];
        // A new pin needs its fixtures read upstream first.
        expect(chart, `test/fixtures/cluster-autoscaler/chart-rbac.json has chart ${version}`).toBeDefined();
        expect(release, `test/fixtures/cluster-autoscaler/needs.json has autoscaler ${tag}`).toBeDefined();
        expect(tag.slice(1, tag.lastIndexOf(".")), "the autoscaler's minor is the cluster's").toBe(minor);
        expect(ungranted(release!.needs, chart!)).toEqual([]);
    });

    it("fails for chart 9.51.0: its ClusterRole has no resource.k8s.io rule, so the DRA informers of 1.35 and 1.36 never sync", () => {
        for (const tag of ["v1.35.2", "v1.36.1"]) {
            const missing = ungranted(needsFixture.releases[tag]!.needs, chartFixture.charts["9.51.0"]!);
            expect(missing.map((m) => m.slice(0, m.indexOf(" ("))), tag).toEqual([
                "resource.k8s.io/resourceclaims list",
                "resource.k8s.io/resourceclaims watch",
                "resource.k8s.io/resourceslices list",
                "resource.k8s.io/resourceslices watch",
                "resource.k8s.io/deviceclasses list",
                "resource.k8s.io/deviceclasses watch",
            ]);
        }
    });

    it("matches RBAC rules the way the authorizer does: groups, resources, verbs, wildcards and resourceNames", () => {
        const lease: Need = { apiGroup: "coordination.k8s.io", resource: "leases", verbs: ["get"], scope: "namespace", resourceName: "cluster-autoscaler", source: "" };
        expect(ruleGrants({ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get"], resourceNames: ["cluster-autoscaler"] }, lease, "get")).toBe(true);
        expect(ruleGrants({ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get"], resourceNames: ["other"] }, lease, "get")).toBe(false);
        expect(ruleGrants({ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }, lease, "get")).toBe(true);
        expect(ruleGrants({ apiGroups: [""], resources: ["leases"], verbs: ["get"] }, lease, "get")).toBe(false);
        const create: Need = { apiGroup: "", resource: "configmaps", verbs: ["create"], scope: "namespace", source: "" };
        expect(ruleGrants({ apiGroups: [""], resources: ["configmaps"], verbs: ["create"], resourceNames: ["cluster-autoscaler-status"] }, create, "create")).toBe(false);
        // A Role's rules count only for needs in the autoscaler's own namespace.
        const role = { clusterRole: [], role: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["create"] }] };
        expect(ungranted([create], role)).toEqual([]);
        expect(ungranted([{ ...create, scope: undefined }], role)).toEqual(["core/configmaps create ()"]);
    });

    it.each(Object.keys(CLUSTER_AUTOSCALER_RELEASES))("Kubernetes %s: passes the autoscaler only flags it defines at its tag (an unknown flag stops it at start)", (minor) => {
        const tag = clusterAutoscalerImage(minor).tag.split("@")[0] ?? "";
        const defined = needsFixture.releases[tag]!.flags.map((f) => f.name);
        // The chart's own flags and its default extraArgs (chart 9.59.0 templates/deployment.yaml, values.yaml extraArgs), then kubeforge's.
        const values = clusterAutoscalerValues("c", "eu-west-1", minor) as { extraArgs: Record<string, unknown> };
        for (const flag of ["cloud-provider", "namespace", "node-group-auto-discovery", "logtostderr", "stderrthreshold", "v", ...Object.keys(values.extraArgs)]) expect(defined, flag).toContain(flag);
    });

    it("renders the chart's RBAC the way the fixture was read: aws, cluster-scoped, no priority expander, no custom rules", () => {
        const values = clusterAutoscalerValues("c", "eu-west-1", "1.35") as { cloudProvider: string; rbac: Record<string, unknown>; extraArgs: Record<string, unknown> };
        expect(values.cloudProvider).toBe("aws");
        expect(values.rbac).toEqual({ serviceAccount: { create: true, name: "cluster-autoscaler" } });
        expect(values.extraArgs.expander).toBe("least-waste");
        expect(values.extraArgs["leader-elect-resource-lock"]).toBeUndefined();
    });
});
