import { describe, expect, it } from "vitest";
import { ConfigError, parseSettings, type RawConfig } from "../components/config";
import { cpuMillis, imageReferenceProblem, memoryBytes } from "../components/formats";

const parse = (raw: RawConfig) => parseSettings(raw, "kubeforge", "test");

/** The problems a config produces (one line each), or [] when it is valid. */
function problems(raw: RawConfig): string[] {
    try {
        parse(raw);
        return [];
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).message.split("\n");
    }
}

describe("defaults", () => {
    it("gives the three services, each public, built from services/<name>, backend calling the other two", () => {
        const s = parse({});
        expect(s.services.map((x) => x.name)).toEqual(["backend", "messages", "reports"]);
        for (const svc of s.services) {
            expect(svc.loadBalancer).toBe("public");
            expect(svc.build).toEqual({ context: "services", dockerfile: `services/${svc.name}/Dockerfile`, args: {} });
            expect(svc.image).toBeUndefined();
            expect(svc.replicas.min).toBeLessThanOrEqual(svc.replicas.max);
        }
        const callers = Object.fromEntries(s.services.map((x) => [x.name, x.callers]));
        expect(callers).toEqual({ backend: [], messages: ["backend"], reports: ["backend"] });
        expect(s.namespace).toBe("kubeforge");
        expect(s.environment).toBe("development");
    });

    it("overrides one field of a service and keeps the rest of its defaults", () => {
        const s = parse({ services: { reports: { replicas: { max: 20 }, resources: { limits: { cpu: "1" } } } } });
        const reports = s.services.find((x) => x.name === "reports")!;
        expect(reports.replicas).toEqual({ min: 1, max: 20 });
        expect(reports.resources).toEqual({ requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } });
        expect(reports.callers).toEqual(["backend"]);
    });

    it("adds a fourth service by config alone, and lets it be called", () => {
        const s = parse({ services: { search: { image: "ghcr.io/acme/search:1.4.2", loadBalancer: "none", callers: ["backend"] } } });
        expect(s.services.map((x) => x.name)).toEqual(["backend", "messages", "reports", "search"]);
        const search = s.services[3]!;
        expect(search).toMatchObject({ image: "ghcr.io/acme/search:1.4.2", loadBalancer: "none", port: 8080, callers: ["backend"] });
        expect(search.build).toBeUndefined();
    });

    it("drops a disabled service", () => {
        const s = parse({ services: { reports: { enabled: false }, backend: { env: {} } } });
        expect(s.services.map((x) => x.name)).toEqual(["backend", "messages"]);
    });
});

describe("bad config: one line naming the key, the value and what is allowed", () => {
    const cases: [string, RawConfig, string][] = [
        ["max below min", { services: { backend: { replicas: { min: 2, max: 1 } } } },
            "kubeforge:services.backend.replicas.max: 1 is below min 2"],
        ["zero replicas", { services: { messages: { replicas: { min: 0 } } } },
            "kubeforge:services.messages.replicas.min: 0 must be at least 1"],
        ["replicas not a number", { services: { backend: { replicas: { min: "two" } } } },
            'kubeforge:services.backend.replicas.min: "two" is not a number'],
        ["typo in a service key", { services: { backend: { replica: 3 } } },
            "kubeforge:services.backend.replica: is not a known key (allowed: enabled, image, build, port, servicePort, replicas, resources, autoscaling, loadBalancer, metricsPort, callers, store, env, health)"],
        ["typo in a top-level key", { servces: {} },
            "kubeforge:servces: is not a known key (allowed: environment, namespace, cluster, store, services)"],
        ["unknown flavour", { cluster: { flavour: "gke" } },
            'kubeforge:cluster.flavour: "gke" is not allowed (allowed: "kind", "eks", "existing")'],
        ["image without tag", { services: { search: { image: "nginx" } } },
            'kubeforge:services.search.image: "nginx" has no tag; pin a version tag (not latest) or a digest'],
        ["image on latest", { services: { search: { image: "nginx:latest" } } },
            'kubeforge:services.search.image: "nginx:latest" uses the mutable tag latest; pin a version tag or a digest'],
        ["malformed image", { services: { search: { image: "Nginx:1.0" } } },
            'kubeforge:services.search.image: "Nginx:1.0" is not a valid image reference (expected [registry/]name:tag or name@sha256:<64 hex>)'],
        ["neither image nor build", { services: { search: {} } },
            "kubeforge:services.search.image: (missing) is missing; give either image (a pinned reference) or build (a Docker build context)"],
        ["both image and build", { services: { backend: { image: "ghcr.io/acme/backend:1.0.0" } } },
            'kubeforge:services.backend.image: "ghcr.io/acme/backend:1.0.0" is set together with build; give exactly one of image and build'],
        ["unknown load-balancer scope", { services: { reports: { loadBalancer: "private" } } },
            'kubeforge:services.reports.loadBalancer: "private" is not allowed (allowed: "public", "internal", "none")'],
        ["metrics on the service port", { services: { backend: { metricsPort: 8080 } } },
            "kubeforge:services.backend.metricsPort: 8080 is the same as port; /metrics needs its own port, kept off the load balancer"],
        ["privileged port", { services: { backend: { port: 80 } } },
            "kubeforge:services.backend.port: 80 must be at least 1024 (the container runs without privileges)"],
        ["bad memory quantity", { services: { backend: { resources: { limits: { memory: "1 gig" } } } } },
            'kubeforge:services.backend.resources.limits.memory: "1 gig" is not a memory quantity (e.g. 128Mi, 1Gi)'],
        ["memory limit below request", { services: { backend: { resources: { requests: { memory: "512Mi" }, limits: { memory: "256Mi" } } } } },
            'kubeforge:services.backend.resources.limits.memory: "256Mi" is below the request 512Mi'],
        ["cpu limit below request", { services: { reports: { resources: { limits: { cpu: "100m" } } } } },
            'kubeforge:services.reports.resources.limits.cpu: "100m" is below the request 250m'],
        ["HPA target out of range", { services: { reports: { autoscaling: { cpuUtilization: 150 } } } },
            "kubeforge:services.reports.autoscaling.cpuUtilization: 150 must be at most 100"],
        ["unknown caller", { services: { messages: { callers: ["backend", "frontend"] } } },
            'kubeforge:services.messages.callers[1]: "frontend" is not an enabled service (allowed: backend, reports)'],
        ["service calling itself", { services: { reports: { callers: ["reports"] } } },
            'kubeforge:services.reports.callers[0]: "reports" is the service itself; list only other services'],
        ["bad env var name", { services: { backend: { env: { "LOG-LEVEL": "debug" } } } },
            'kubeforge:services.backend.env.LOG-LEVEL: "LOG-LEVEL" is not a valid environment variable name'],
        ["bad service name", { services: { Search_API: { image: "x:1" } } },
            'kubeforge:services.Search_API: "Search_API" is not a valid service name (lower-case letters, digits and -, starting with a letter, at most 40 characters)'],
        ["bad namespace", { namespace: "My NS" },
            'kubeforge:namespace: "My NS" is not a valid namespace name (lower-case letters, digits and -, starting with a letter, at most 40 characters)'],
        ["unknown environment", { environment: "prod" },
            'kubeforge:environment: "prod" is not allowed (allowed: "development", "staging", "production")'],
        ["services not an object", { services: ["backend"] },
            'kubeforge:services: ["backend"] is not an object of service name to settings'],
        ["every service disabled", { services: { backend: { enabled: false }, messages: { enabled: false }, reports: { enabled: false } } },
            "kubeforge:services: every service is disabled; enable at least one"],
    ];
    it.each(cases)("%s", (_title, raw, expected) => {
        expect(problems(raw)).toEqual([expected]);
    });

    it("reports every problem, one line each", () => {
        const lines = problems({ namespace: "X", services: { backend: { replicas: { min: 3, max: 2 }, port: 22 } } });
        expect(lines).toHaveLength(3);
        expect(lines.every((l) => l.startsWith("kubeforge:"))).toBe(true);
    });

    it("is a RunError, so Pulumi prints the message without a stack trace", async () => {
        const pulumi = await import("@pulumi/pulumi");
        let caught: unknown;
        try {
            parse({ services: { backend: { replicas: { min: 2, max: 1 } } } });
        } catch (err) {
            caught = err;
        }
        expect(pulumi.RunError.isInstance(caught)).toBe(true);
    });
});

describe("value formats", () => {
    it.each([
        ["nginx:1.27.2", undefined],
        ["ghcr.io/acme/search:1.4.2", undefined],
        ["localhost:5001/backend:abc123", undefined],
        [`registry.k8s.io/pause@sha256:${"a".repeat(64)}`, undefined],
        [`nginx:1.27@sha256:${"b".repeat(64)}`, undefined],
        ["nginx", "has no tag"],
        ["nginx:latest", "latest"],
        ["ghcr.io/acme/search", "has no tag"],
        ["nginx:", "not a valid image reference"],
        ["nginx@sha256:short", "not a valid image reference"],
    ])("image %s", (ref, expected) => {
        const problem = imageReferenceProblem(ref);
        if (expected === undefined) expect(problem).toBeUndefined();
        else expect(problem).toContain(expected);
    });

    it("reads Kubernetes quantities", () => {
        expect(cpuMillis("250m")).toBe(250);
        expect(cpuMillis("1.5")).toBe(1500);
        expect(memoryBytes("128Mi")).toBe(128 * 2 ** 20);
        expect(memoryBytes("1G")).toBe(1e9);
        expect(memoryBytes("12 parsecs")).toBeNaN();
    });
});
