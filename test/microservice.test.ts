import { isDeepStrictEqual } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { hpaBehavior, probes, recommendedLabels, selectorLabels, serviceUrl, topologySpread, upstreamEnvName } from "../components/microservice";
import { parseSettings } from "../components/config";
import { stackConfig } from "../scripts/stack-files";
import { kubernetesObjects } from "../scripts/synth";
import { at, runStack, stackFiles, type K8sObject, type Program } from "./harness";
import { validateK8s } from "./validate";

type Container = {
    name: string; image: string; ports: { name: string; containerPort: number }[];
    env: { name: string; value: string }[];
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    startupProbe: Probe; livenessProbe: Probe; readinessProbe: Probe;
    lifecycle: { preStop: { sleep?: { seconds: number } } };
    securityContext: Record<string, unknown>;
    volumeMounts: { name: string; mountPath: string }[];
};
type Probe = { httpGet: { path: string; port: string | number }; periodSeconds: number; failureThreshold: number };

/** The cluster flavour a stack file configures. */
const stackConfigFlavour = (stack: string): string | undefined => (stackConfig(stack)["kubeforge:cluster"] as { flavour?: string } | undefined)?.flavour;

const container = (d: K8sObject): Container => at<Container[]>(d, "spec.template.spec.containers")[0]!;

/** Assertions every service's objects must satisfy, whatever the stack. */
function expectFullSet(p: Program, name: string, stack: string, opts: { loadBalancer: "public" | "internal" | "none"; min: number; max: number }): void {
    const selector = selectorLabels(name, stack);

    const [sa] = p.k8s("ServiceAccount", name);
    expect(sa?.automountServiceAccountToken).toBe(false);

    const deployments = p.k8s("Deployment", name);
    expect(deployments).toHaveLength(1);
    const d = deployments[0]!;
    expect(d.metadata?.labels).toEqual(recommendedLabels(name, stack));
    expect(at(d, "spec.replicas")).toBeUndefined();
    expect(at(d, "spec.selector.matchLabels")).toEqual(selector);
    expect(at(d, "spec.template.metadata.labels")).toMatchObject(selector);
    expect(at(d, "spec.strategy")).toMatchObject({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0 } });
    expect(at<number>(d, "spec.progressDeadlineSeconds")).toBeGreaterThan(0);
    expect(at<number>(d, "spec.revisionHistoryLimit")).toBeGreaterThan(0);
    expect(at(d, "spec.template.spec.serviceAccountName")).toBe(name);

    const c = container(d);
    const portNames = c.ports.map((port) => port.name);
    const probeList = [c.startupProbe, c.livenessProbe, c.readinessProbe];
    for (const probe of probeList) expect(portNames).toContain(probe.httpGet.port);
    const signatures = probeList.map((probe) => JSON.stringify(probe));
    expect(new Set(signatures).size).toBe(3);
    expect(c.readinessProbe.httpGet.path).not.toBe(c.livenessProbe.httpGet.path);
    expect(c.resources.requests.cpu).toBeTruthy();
    expect(c.resources.requests.memory).toBeTruthy();
    expect(c.resources.limits.memory).toBeTruthy();

    const podSecurity = at<Record<string, unknown>>(d, "spec.template.spec.securityContext");
    expect(podSecurity).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(podSecurity.runAsUser as number).toBeGreaterThanOrEqual(10000);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    const tmp = c.volumeMounts.find((m) => m.mountPath === "/tmp");
    expect(tmp).toBeDefined();
    expect(at<{ name: string; emptyDir?: object }[]>(d, "spec.template.spec.volumes").find((v) => v.name === tmp!.name)?.emptyDir).toBeDefined();

    const preStop = c.lifecycle.preStop.sleep?.seconds ?? 0;
    expect(preStop).toBeGreaterThan(0);
    // After the preStop pause the service still has its own drain time before SIGKILL.
    expect(at<number>(d, "spec.template.spec.terminationGracePeriodSeconds")).toBe(preStop + 30);
    const spread = at<{ topologyKey: string; labelSelector: { matchLabels: object } }[]>(d, "spec.template.spec.topologySpreadConstraints");
    expect(spread.map((t) => t.topologyKey)).toContain("kubernetes.io/hostname");
    for (const t of spread) expect(t.labelSelector.matchLabels).toEqual(selector);

    // In-cluster Service on the container port itself (callers dial what NetworkPolicies admit).
    const http = c.ports.find((port) => port.name === "http")!;
    const [svc] = p.k8s("Service", name);
    expect(at(svc, "spec.type")).toBe("ClusterIP");
    expect(at(svc, "spec.selector")).toEqual(selector);
    expect(at(svc, "spec.ports")).toEqual([{ name: "http", port: http.containerPort, targetPort: "http", protocol: "TCP" }]);
    // Its own load balancer, if any, reaches the same pods; /metrics is on a port no Service exposes.
    const lbs = p.k8s("Service").filter((s) => at(s, "spec.type") === "LoadBalancer" && isDeepStrictEqual(at(s, "spec.selector"), selector));
    expect(lbs.map((s) => s.metadata?.name)).toEqual(opts.loadBalancer === "none" ? [] : [`${name}-${opts.loadBalancer}`]);
    for (const lb of lbs) expect(at<{ targetPort: string }[]>(lb, "spec.ports").map((port) => port.targetPort)).toEqual(["http"]);
    const metrics = c.ports.find((port) => port.name === "metrics")!;
    expect(c.env).toContainEqual({ name: "METRICS_PORT", value: String(metrics.containerPort) });

    // The HPA targets exactly this Deployment, on CPU and memory, with explicit behaviour.
    const hpas = p.k8s("HorizontalPodAutoscaler").filter((h) => at(h, "spec.scaleTargetRef.name") === name);
    expect(hpas).toHaveLength(1);
    const hpa = hpas[0]!;
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    expect(at(hpa, "spec.scaleTargetRef")).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name });
    expect(at(hpa, "spec.minReplicas")).toBe(opts.min);
    expect(at(hpa, "spec.maxReplicas")).toBe(opts.max);
    expect(at<{ resource: { name: string } }[]>(hpa, "spec.metrics").map((m) => m.resource.name).sort()).toEqual(["cpu", "memory"]);
    expect(at(hpa, "spec.behavior.scaleUp")).toBeDefined();
    expect(at(hpa, "spec.behavior.scaleDown")).toBeDefined();

    const [pdb] = p.k8s("PodDisruptionBudget", name);
    expect(at(pdb, "spec.selector.matchLabels")).toEqual(selector);
    // Never blocks a drain: at most min-1 pods must stay, so one can always go.
    expect(at(pdb, "spec.maxUnavailable")).toBe(1);

    const policies = p.k8s("NetworkPolicy").filter((n) => isDeepStrictEqual(at(n, "spec.podSelector.matchLabels"), selector));
    expect(policies).toHaveLength(2);
    const deny = policies.find((n) => at(n, "spec.ingress") === undefined && at(n, "spec.egress") === undefined);
    expect(at(deny, "spec.policyTypes")).toEqual(["Ingress", "Egress"]);
    const allow = policies.find((n) => n !== deny)!;
    const egressPorts = at<{ ports: { port: number; protocol: string }[] }[]>(allow, "spec.egress").flatMap((e) => e.ports);
    expect(egressPorts).toContainEqual({ protocol: "UDP", port: 53 });
}

describe.each(stackFiles())("stack %s", (stack) => {
    let p: Program;
    beforeAll(async () => {
        p = await runStack(stack);
    });

    it("declares a full, valid set of objects for every configured service", () => {
        const settings = p.resources.filter((r) => r.type === "kubeforge:microservice:Microservice").map((r) => r.name);
        expect(settings.length).toBeGreaterThanOrEqual(3);
        for (const name of settings) {
            const hpa = p.k8s("HorizontalPodAutoscaler", name)[0]!;
            const scope = p.k8s("Service").map((s) => s.metadata?.name).find((n) => n === `${name}-public` || n === `${name}-internal`);
            expectFullSet(p, name, stack, {
                loadBalancer: scope === undefined ? "none" : scope === `${name}-public` ? "public" : "internal",
                min: at<number>(hpa, "spec.minReplicas"),
                max: at<number>(hpa, "spec.maxReplicas"),
            });
        }
    });

    it("gives each of the three services its own load balancer", () => {
        const lbs = p.k8s("Service").filter((s) => at(s, "spec.type") === "LoadBalancer").map((s) => s.metadata?.labels?.["app.kubernetes.io/name"]);
        expect([...lbs].sort()).toEqual(["backend", "messages", "reports"]);
    });

    it("autoscales each Deployment independently: one HPA each, none shared", () => {
        const targets = p.k8s("HorizontalPodAutoscaler").map((h) => at<string>(h, "spec.scaleTargetRef.name"));
        const deployments = p.k8s("Deployment").map((d) => d.metadata!.name!);
        expect([...targets].sort()).toEqual([...deployments].sort());
    });

    it("lets backend reach messages and reports, and nobody else reach them", () => {
        const backend = container(p.k8s("Deployment", "backend")[0]!);
        const env = Object.fromEntries(backend.env.map((e) => [e.name, e.value]));
        expect(env.MESSAGES_URL).toMatch(/^http:\/\/messages\.[a-z0-9-]+\.svc\.cluster\.local:\d+$/);
        expect(env.REPORTS_URL).toMatch(/^http:\/\/reports\.[a-z0-9-]+\.svc\.cluster\.local:\d+$/);
        for (const upstream of ["messages", "reports"]) {
            const allow = p.k8s("NetworkPolicy", `${upstream}-allow`)[0]!;
            const fromPods = at<{ from: { podSelector?: { matchLabels: Record<string, string> } }[] }[]>(allow, "spec.ingress")
                .flatMap((rule) => rule.from.flatMap((f) => (f.podSelector ? [f.podSelector.matchLabels["app.kubernetes.io/name"]] : [])));
            expect(fromPods).toEqual(["backend"]);
        }
        const backendIngressFromPods = at<{ from: { podSelector?: object }[] }[]>(p.k8s("NetworkPolicy", "backend-allow")[0], "spec.ingress")
            .flatMap((rule) => rule.from.filter((f) => f.podSelector));
        expect(backendIngressFromPods).toEqual([]);
    });

    it("declares only Kubernetes objects that validate against the official OpenAPI schema", () => {
        const objects = kubernetesObjects(p.resources);
        expect(objects.length).toBeGreaterThan(15);
        for (const obj of objects) validateK8s(obj);
    });

    it("orders a Deployment after its load-balancer Service exactly where the cluster's load balancer gates pod readiness (EKS)", () => {
        const gates = stackConfigFlavour(stack) === "eks";
        for (const name of ["backend", "messages", "reports"]) {
            const deployment = p.named("kubernetes:apps/v1:Deployment", `${name}-deployment`);
            expect(deployment.options.dependencies.some((dep) => dep.endsWith(`::${name}-lb`)), `${stack} ${name}`).toBe(gates);
        }
    });

    it("exports each service's name, namespace, load-balancer address and URL", () => {
        const endpoints = p.run.outputs.endpoints as Record<string, { name: string; namespace: string; address: string; url: string }>;
        for (const name of ["backend", "messages", "reports"]) {
            expect(endpoints[name]).toMatchObject({ name, namespace: expect.any(String) });
            expect(endpoints[name]!.address).not.toBe("");
            expect(endpoints[name]!.url).toMatch(new RegExp(`^https?://${endpoints[name]!.address.replace(/\./g, "\\.")}`));
        }
    });
});

describe("a fourth service, by config alone", () => {
    let p: Program;
    beforeAll(async () => {
        p = await runStack("dev", {
            "kubeforge:services": {
                search: { image: "ghcr.io/acme/search:1.4.2", loadBalancer: "none", callers: ["backend"], replicas: { min: 2, max: 6 } },
            },
        });
    });

    it("gets the full set of objects, internal, called by backend", () => {
        expectFullSet(p, "search", "dev", { loadBalancer: "none", min: 2, max: 6 });
        expect((p.run.outputs.endpoints as Record<string, { address: string; url: string }>).search).toMatchObject({ address: "", url: "" });
        expect(container(p.k8s("Deployment", "search")[0]!).image).toBe("ghcr.io/acme/search:1.4.2");
        const backendEnv = container(p.k8s("Deployment", "backend")[0]!).env.map((e) => e.name);
        expect(backendEnv).toContain("SEARCH_URL");
        for (const obj of kubernetesObjects(p.resources)) validateK8s(obj);
    });

    it("is not built: a prebuilt image skips the image build", () => {
        expect(p.ofType("docker:index/image:Image").map((r) => r.name)).not.toContain("search-image");
    });
});

describe("pure helpers", () => {
    it("names upstream URLs after the service", () => {
        expect(upstreamEnvName("messages")).toBe("MESSAGES_URL");
        expect(upstreamEnvName("search-api")).toBe("SEARCH_API_URL");
        expect(serviceUrl("reports", "apps", 80)).toBe("http://reports.apps.svc.cluster.local:80");
    });

    it("probes: readiness reacts fast, liveness slowly, startup allows a slow start", () => {
        const svc = { ...parseSettings({}, "p", "s").services[0]!, health: { liveness: "/healthz", readiness: "/readyz" } };
        const p = probes(svc) as unknown as Record<string, Probe>;
        const failAfter = (probe: Probe) => probe.periodSeconds * probe.failureThreshold;
        expect(failAfter(p.readinessProbe!)).toBeLessThan(failAfter(p.livenessProbe!));
        expect(failAfter(p.startupProbe!)).toBeGreaterThanOrEqual(60);
        expect(p.readinessProbe!.httpGet.path).toBe("/readyz");
    });

    it("HPA scales up at once and down slowly", () => {
        const b = hpaBehavior();
        expect(b.scaleUp).toMatchObject({ stabilizationWindowSeconds: 0 });
        expect((b.scaleDown as { stabilizationWindowSeconds: number }).stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
    });

    it("spreads across zones only where the cluster has them, and hard there", () => {
        const labels = selectorLabels("backend", "prod");
        expect(topologySpread(labels, false).map((t) => t.topologyKey)).toEqual(["kubernetes.io/hostname"]);
        const zoned = topologySpread(labels, true);
        expect(zoned.find((t) => t.topologyKey === "topology.kubernetes.io/zone")).toMatchObject({ whenUnsatisfiable: "DoNotSchedule" });
    });
});
