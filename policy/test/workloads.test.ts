import { describe, expect, it } from "vitest";
import type { Container, Deployment, Service, HorizontalPodAutoscaler } from "../lib/kubernetes";
import { healthProbes } from "../policies/health-probes";
import { hostIsolation } from "../policies/host-isolation";
import { pinnedImage, unpinnedReason } from "../policies/pinned-image";
import { productionReplicas } from "../policies/production-replicas";
import { publicServices } from "../policies/public-services";
import { resourceRequests } from "../policies/resource-requests";
import { restrictedSecurityContext } from "../policies/restricted-security-context";
import { fixture, inputsOf, messages } from "./util";

const ALL_PUBLIC = { publicServices: ["backend", "messages", "reports"] };

/** The compliant stack with the backend Deployment's first container changed by `edit`. */
function withBackendContainer(edit: (c: Container, d: Deployment) => void) {
    const resources = fixture("compliant");
    const d = inputsOf<Deployment>(resources, "backend-deployment");
    const c = d.spec?.template?.spec?.containers?.[0];
    if (!c) throw new Error("fixture has no backend container");
    edit(c, d);
    return resources;
}

describe("k8s-pinned-image", () => {
    it("accepts digests and version tags", async () => {
        expect(await messages(pinnedImage, fixture("compliant"))).toEqual([]);
        expect(unpinnedReason("localhost:5001/backend:1.4.2")).toBeUndefined();
        expect(unpinnedReason(`nginx@sha256:${"0".repeat(64)}`)).toBeUndefined();
    });

    it.each([
        ["backend:latest", "mutable tag :latest"],
        ["localhost:5001/backend", "without a tag"],
        ["", "empty image"],
    ])("reports %j naming the Deployment, the container and the fix", async (image, problem) => {
        const found = await messages(pinnedImage, withBackendContainer((c) => (c.image = image)));
        expect(found).toHaveLength(1);
        expect(found[0]).toContain('Deployment kubeforge/backend container "backend"');
        expect(found[0]).toContain(problem);
        expect(found[0]).toContain("pin a version tag or an @sha256 digest");
    });

    it("checks init containers and other workload kinds", async () => {
        const resources = withBackendContainer((_c, d) => {
            d.spec!.template!.spec!.initContainers = [{ name: "migrate", image: "flyway" }];
        });
        resources.push({ type: "kubernetes:batch/v1:CronJob", name: "nightly", parent: null, inputs: { metadata: { name: "nightly", namespace: "ops" }, spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: "job", image: "busybox:latest" }] } } } } } } });
        const found = await messages(pinnedImage, resources);
        expect(found).toHaveLength(2);
        expect(found[0]).toContain('Deployment kubeforge/backend init container "migrate" runs image "flyway" without a tag');
        expect(found[1]).toContain('CronJob ops/nightly container "job"');
    });

    it("does not judge an image it cannot see (a build output unknown offline)", async () => {
        expect(await messages(pinnedImage, withBackendContainer((c) => delete c.image))).toEqual([]);
    });
});

describe("k8s-resource-requests", () => {
    it("accepts requests for cpu and memory with a memory limit", async () => {
        expect(await messages(resourceRequests, fixture("compliant"))).toEqual([]);
    });

    it("reports every missing setting in one message", async () => {
        const found = await messages(resourceRequests, withBackendContainer((c) => (c.resources = { requests: { cpu: "100m" } })));
        expect(found).toEqual([
            'Deployment kubeforge/backend container "backend" does not set resources.requests.memory, resources.limits.memory; set them (e.g. requests cpu 100m, memory 128Mi; limits memory 256Mi).',
        ]);
    });

    it("reports a container with no resources at all", async () => {
        const found = await messages(resourceRequests, withBackendContainer((c) => delete c.resources));
        expect(found[0]).toContain("resources.requests.cpu, resources.requests.memory, resources.limits.memory");
    });
});

describe("k8s-health-probes", () => {
    it("accepts distinct readiness and liveness probes", async () => {
        expect(await messages(healthProbes, fixture("compliant"))).toEqual([]);
    });

    it("reports a missing readiness probe and a missing liveness probe", async () => {
        const found = await messages(healthProbes, withBackendContainer((c) => {
            delete c.readinessProbe;
            delete c.livenessProbe;
        }));
        expect(found).toHaveLength(2);
        expect(found[0]).toMatch(/^Deployment kubeforge\/backend container "backend" has no readinessProbe; add one/);
        expect(found[1]).toMatch(/^Deployment kubeforge\/backend container "backend" has no livenessProbe; add one/);
    });

    it("reports probes that check the same thing, whatever their timings and key order", async () => {
        const found = await messages(healthProbes, withBackendContainer((c) => {
            c.readinessProbe = { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5 };
            c.livenessProbe = { periodSeconds: 30, httpGet: { port: "http", path: "/healthz" } };
        }));
        expect(found).toHaveLength(1);
        expect(found[0]).toContain("uses the same check for readinessProbe and livenessProbe; point liveness at a cheaper endpoint");
    });
});

describe("k8s-restricted-security-context", () => {
    it("accepts a restricted container (non-root may come from the pod)", async () => {
        expect(await messages(restrictedSecurityContext, fixture("compliant"))).toEqual([]);
        const podLevel = withBackendContainer((c) => delete c.securityContext!.runAsNonRoot);
        expect(await messages(restrictedSecurityContext, podLevel)).toEqual([]);
    });

    it("lists every gap of a container that sets nothing", async () => {
        const found = await messages(restrictedSecurityContext, withBackendContainer((c, d) => {
            delete c.securityContext;
            delete d.spec!.template!.spec!.securityContext;
        }));
        expect(found).toEqual([
            'Deployment kubeforge/backend container "backend" securityContext lacks runAsNonRoot: true (and no runAsUser 0), readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities.drop: ["ALL"]; set them on the container.',
        ]);
    });

    it("reports privileged containers, root user ids and kept capabilities", async () => {
        const found = await messages(restrictedSecurityContext, withBackendContainer((c) => {
            c.securityContext = { ...c.securityContext, privileged: true, runAsUser: 0, capabilities: { drop: ["NET_RAW"] } };
        }));
        expect(found).toHaveLength(1);
        expect(found[0]).toContain("runAsNonRoot: true (and no runAsUser 0)");
        expect(found[0]).toContain("privileged: false");
        expect(found[0]).toContain('capabilities.drop: ["ALL"]');
        expect(found[0]).not.toContain("readOnlyRootFilesystem");
    });
});

describe("k8s-host-isolation", () => {
    it("accepts pods that use only their own namespaces and emptyDir volumes", async () => {
        expect(await messages(hostIsolation, fixture("compliant"))).toEqual([]);
    });

    it("reports host namespaces and hostPath volumes", async () => {
        const found = await messages(hostIsolation, withBackendContainer((_c, d) => {
            Object.assign(d.spec!.template!.spec!, { hostNetwork: true, hostPID: true, hostIPC: true });
            d.spec!.template!.spec!.volumes!.push({ name: "docker", hostPath: { path: "/var/run/docker.sock" } });
        }));
        expect(found).toEqual([
            "Deployment kubeforge/backend sets hostNetwork: true; remove it, pods must not share the node's namespaces.",
            "Deployment kubeforge/backend sets hostPID: true; remove it, pods must not share the node's namespaces.",
            "Deployment kubeforge/backend sets hostIPC: true; remove it, pods must not share the node's namespaces.",
            'Deployment kubeforge/backend mounts hostPath /var/run/docker.sock as volume "docker"; use an emptyDir, ConfigMap, Secret or PersistentVolumeClaim instead.',
        ]);
    });
});

describe("k8s-public-services", () => {
    const SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme";
    /** The compliant fixture with every load balancer internet-facing (it keeps messages and reports internal). */
    function allInternetFacing() {
        const resources = fixture("compliant");
        for (const name of ["backend-service", "messages-service", "reports-service"]) {
            const metadata = inputsOf<Service>(resources, name).metadata!;
            metadata.annotations = { ...metadata.annotations, [SCHEME]: "internet-facing" };
        }
        return resources;
    }

    it("accepts load balancers of allow-listed services", async () => {
        expect(await messages(publicServices, fixture("compliant"), ALL_PUBLIC)).toEqual([]);
    });

    it("reports a load balancer that is not on the allow-list, and only that one", async () => {
        const found = await messages(publicServices, allInternetFacing(), { publicServices: ["backend"] });
        expect(found).toHaveLength(2);
        expect(found[0]).toContain('Service kubeforge/messages is a public LoadBalancer but "messages" is not on the publicServices allow-list (backend)');
        expect(found[0]).toContain('make it ClusterIP or an internal load balancer, or add "messages" to publicServices');
        expect(found[1]).toContain("Service kubeforge/reports");
    });

    it("does not count an internal load balancer as public", async () => {
        const resources = fixture("compliant");
        expect(inputsOf<Service>(resources, "messages-service").metadata?.annotations?.[SCHEME]).toBe("internal");
        expect(await messages(publicServices, resources, { publicServices: ["backend"] })).toEqual([]);
        // The internet-facing scheme is public.
        inputsOf<Service>(resources, "reports-service").metadata!.annotations![SCHEME] = "internet-facing";
        expect(await messages(publicServices, resources, { publicServices: ["backend"] })).toHaveLength(1);
    });

    it("allows no load balancer by default, and ignores ClusterIP services", async () => {
        const resources = allInternetFacing();
        inputsOf<Service>(resources, "reports-service").spec!.type = "ClusterIP";
        const found = await messages(publicServices, resources);
        expect(found.map((m) => m.split(" is ")[0])).toEqual(["Service kubeforge/backend", "Service kubeforge/messages"]);
        expect(found[0]).toContain("allow-list (empty)");
    });
});

describe("k8s-production-min-replicas", () => {
    function withBackendMin(min: number | undefined) {
        const resources = fixture("compliant");
        const spec = inputsOf<HorizontalPodAutoscaler>(resources, "backend-hpa").spec!;
        if (min === undefined) delete spec.minReplicas;
        else spec.minReplicas = min;
        return resources;
    }

    it("accepts two or more replicas in production", async () => {
        expect(await messages(productionReplicas, fixture("compliant"), { production: true })).toEqual([]);
    });

    it("reports a single replica in production, including Kubernetes' default of 1", async () => {
        for (const min of [1, undefined]) {
            expect(await messages(productionReplicas, withBackendMin(min), { production: true })).toEqual([
                "HorizontalPodAutoscaler kubeforge/backend has minReplicas 1 in a production stack; set the service's replicas.min to at least 2.",
            ]);
        }
    });

    it("allows one replica outside production, and honours a higher minimum", async () => {
        expect(await messages(productionReplicas, withBackendMin(1))).toEqual([]);
        expect(await messages(productionReplicas, fixture("compliant"), { production: true, minReplicas: 3 })).toHaveLength(3);
    });
});
