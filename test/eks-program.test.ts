/**
 * The whole program (index.ts) on the prod stack's EKS cluster, under mocks: the three services
 * deploy unchanged, each public one behind its own internet-facing NLB, admitting traffic from
 * the VPC, created only once nodes and the load-balancer controller are there, its image built
 * for the nodes' platform and pushed to its ECR repository.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SERVICE_NAMES } from "../components/config";
import { nlbAnnotations, READINESS_GATE_LABEL } from "../components/cluster/eks/eks";
import { specialSecretSig as SECRET_SIG, specialSigKey as SECRET_SIG_KEY } from "@pulumi/pulumi/runtime/rpc";
import { type Program, runStack } from "./harness";

describe("the program on the prod EKS cluster", () => {
    let program: Program;
    const cluster = "kubeforge-prod";
    beforeAll(async () => {
        program = await runStack("prod");
    });

    it("exports the cluster's name, endpoint, OIDC issuer, one node group per zone and a kubeconfig using aws eks get-token", () => {
        expect(program.run.outputs.cluster).toEqual({
            flavour: "eks",
            name: cluster,
            endpoint: expect.stringMatching(/^https:\/\//),
            oidcIssuer: expect.stringMatching(/^https:\/\/oidc\.eks\./),
            nodeGroupNames: [`${cluster}-nodes-0`, `${cluster}-nodes-1`, `${cluster}-nodes-2`],
            region: "eu-west-1",
        });
        expect(String(program.run.outputs.kubeconfig)).toContain('"get-token","--cluster-name","kubeforge-prod","--region","eu-west-1"');
    });

    it("gives each service its own NLB of the load-balancer controller's class: backend internet-facing in the public subnets, messages and reports internal in their own subnets", () => {
        const services = program.k8s("Service").filter((s) => s.spec?.type === "LoadBalancer");
        expect(services.map((s) => s.metadata?.name).sort()).toEqual(["backend-public", "messages-internal", "reports-internal"]);
        const subnetIds = (kind: string) => [0, 1, 2].map((i) => `${cluster}-network-${kind}-${i}-id`);
        for (const s of services) {
            const scope = s.metadata!.name!.endsWith("-public") ? "public" : "internal";
            expect(s.metadata?.annotations, s.metadata?.name).toEqual(nlbAnnotations(scope, "/readyz", subnetIds(scope === "public" ? "public" : "internal-lb")));
            expect(s.spec?.loadBalancerClass, s.metadata?.name).toBe("service.k8s.aws/nlb");
        }
    });

    it("admits each NLB only from the subnets its interfaces live in, never the whole VPC or the pods' subnets", () => {
        const subnetCidrs = (kind: string) => [0, 1, 2].map((i) => String(program.named("aws:ec2/subnet:Subnet", `${cluster}-network-${kind}-${i}`).inputs.cidrBlock));
        const lbPeers = (service: string) => {
            const [allow] = program.k8s("NetworkPolicy", `${service}-allow`);
            return ((allow?.spec?.ingress as { from: { ipBlock?: { cidr: string } }[] }[] | undefined) ?? []).flatMap((rule) => rule.from.flatMap((f) => (f.ipBlock ? [f.ipBlock.cidr] : [])));
        };
        expect(lbPeers("backend")).toEqual(subnetCidrs("public"));
        expect(lbPeers("messages")).toEqual(subnetCidrs("internal-lb"));
        expect(lbPeers("reports")).toEqual(subnetCidrs("internal-lb"));
        // No ingress rule admits the VPC, everywhere or the pods' subnets (messages' egress to its
        // store in the private subnets, issue #13, is not an ingress).
        const ingress = JSON.stringify(program.k8s("NetworkPolicy").map((np) => np.spec?.ingress ?? []));
        for (const cidr of ["10.30.0.0/16", "0.0.0.0/0", ...subnetCidrs("private")]) expect(ingress).not.toContain(cidr);
    });

    it("labels the namespace for pod readiness gates, and keeps terminating pods serving past the NLB's deregistration", () => {
        expect(program.k8s("Namespace")[0]?.metadata?.labels).toMatchObject(READINESS_GATE_LABEL);
        for (const d of program.k8s("Deployment")) {
            const pod = (d.spec as { template: { spec: { terminationGracePeriodSeconds: number; containers: { lifecycle: { preStop: { sleep: { seconds: number } } } }[] } } }).template.spec;
            const annotations = nlbAnnotations("public", "/readyz", []);
            const deregistration = Number(/timeout_seconds=(\d+)/.exec(annotations["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"] ?? "")?.[1]);
            expect(pod.containers[0]!.lifecycle.preStop.sleep.seconds).toBeGreaterThan(deregistration);
            expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(pod.containers[0]!.lifecycle.preStop.sleep.seconds);
        }
    });

    it("creates the services' workloads and metrics-server only after every zone's node group, CoreDNS and the load-balancer controller", () => {
        const nodeGroups = [0, 1, 2].map((i) => `aws:eks/nodeGroup:NodeGroup::${cluster}-nodes-${i}`);
        const needed = [...nodeGroups, `aws:eks/addon:Addon::${cluster}-coredns`, `kubernetes:helm.sh/v3:Release::${cluster}-aws-load-balancer-controller`];
        // The Kubernetes objects themselves wait: a component's dependsOn does not reach its children.
        const waiting = [
            ...DEFAULT_SERVICE_NAMES.flatMap((name) => [
                program.named("kubernetes:apps/v1:Deployment", `${name}-deployment`),
                program.named("kubernetes:core/v1:Service", `${name}-lb`),
            ]),
            program.named("kubernetes:helm.sh/v3:Release", "platform-metrics-server"),
        ];
        for (const r of waiting) {
            for (const urn of needed) expect(r.options.dependencies.some((dep) => dep.endsWith(urn)), `${r.name} waits for ${urn}`).toBe(true);
        }
    });

    // aws-load-balancer-controller v3.5.0 pkg/inject/pod_readiness/pod_readiness_gate.go Mutate:
    // a pod gets a readiness gate for each TargetGroupBinding in its namespace that exists when
    // the pod is created ("create ingress or service before pod", docs/deploy/pod_readiness_gate.md).
    // The controller creates the binding before it writes the Service's load-balancer status
    // (pkg/deploy/stack_deployer.go Deploy, then controllers/service/service_controller.go
    // updateServiceStatus), the status Pulumi's Service await waits for (pulumi-kubernetes v4.32.0
    // provider/pkg/await/service.go). So the first rollout's pods only become ready once their NLB
    // target is healthy, and a first `pulumi up` whose NLB cannot reach the pods fails instead of
    // succeeding.
    it("creates each service's Deployment after its load balancer's Service, so the first pods get the controller's readiness gate", () => {
        for (const name of DEFAULT_SERVICE_NAMES) {
            const deployment = program.named("kubernetes:apps/v1:Deployment", `${name}-deployment`);
            expect(deployment.options.dependencies.some((dep) => dep.endsWith(`kubernetes:core/v1:Service::${name}-lb`)), name).toBe(true);
        }
    });

    // Pulumi deletes a resource only once everything that depends on it is gone, and nothing but
    // a dependency orders two deletions. The load-balancer controller deletes a Service's NLB
    // (and only then drops the Service's finalizer) through the ELB API, which it reaches from
    // the private subnets through their NAT gateway (the VPC has no endpoints), and the nodes pull
    // images and fetch Pod Identity credentials the same way. So every load-balancer Service must
    // (transitively) depend on the private routes and NAT gateways, or `pulumi destroy` may take
    // the routes first and leave the Services, their NLBs and the VPC behind.
    it("creates the nodes after the private subnets' NAT routes, and destroys every load-balancer Service before them", () => {
        const byUrn = new Map(program.resources.map((r) => [r.urn, r]));
        const closure = (start: string): Set<string> => {
            const seen = new Set<string>();
            const walk = (urn: string): void => {
                for (const dep of byUrn.get(urn)?.options.dependencies ?? []) if (!seen.has(dep)) { seen.add(dep); walk(dep); }
            };
            walk(start);
            return seen;
        };
        const egress = program.resources.filter((r) => /^(aws:ec2\/routeTableAssociation:RouteTableAssociation|aws:ec2\/natGateway:NatGateway)$/.test(r.type) && /-(private|nat)-\d+$/.test(r.name));
        expect(egress.map((r) => r.name).sort()).toEqual([0, 1, 2].flatMap((i) => [`${cluster}-network-nat-${i}`, `${cluster}-network-private-${i}`]).sort());
        for (const group of [0, 1, 2].map((i) => program.named("aws:eks/nodeGroup:NodeGroup", `${cluster}-nodes-${i}`))) {
            const deps = closure(group.urn);
            for (const e of egress) expect(deps.has(e.urn), `${group.name} after ${e.name}`).toBe(true);
        }
        for (const name of DEFAULT_SERVICE_NAMES) {
            const deps = closure(program.named("kubernetes:core/v1:Service", `${name}-lb`).urn);
            for (const e of egress) expect(deps.has(e.urn), `${name}-lb before ${e.name}`).toBe(true);
        }
    });

    it("sends every Kubernetes object and Helm release through the cluster's provider, which waits for the admin access check", () => {
        const provider = program.named("pulumi:providers:kubernetes", `${cluster}-k8s`);
        expect(provider.options.dependencies.some((d) => d.endsWith(`command:local:Command::${cluster}-admin-access`))).toBe(true);
        const k8sResources = program.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:"));
        expect(k8sResources.map((r) => r.name)).toEqual(expect.arrayContaining(["platform-namespace", "platform-metrics-server", "backend-deployment", `${cluster}-cluster-autoscaler`]));
        for (const r of k8sResources) expect(r.options.provider, r.name).toContain(`::${cluster}-k8s::`);
    });

    it("builds each image for the nodes' platform and pushes it to the service's ECR repository with ECR credentials", () => {
        for (const name of DEFAULT_SERVICE_NAMES) {
            const image = program.named("docker:index/image:Image", `${name}-image`).inputs as { imageName: string; build: { platform: string }; registry: Record<string, unknown> };
            expect(image.imageName).toMatch(new RegExp(`^123456789012\\.dkr\\.ecr\\.eu-west-1\\.amazonaws\\.com/${cluster}/${name}:[0-9a-f]{16}$`));
            expect(image.build.platform).toBe("linux/amd64");
            // Pulumi's wire form of a secret: the signature key with the secret marker, and the value.
            expect(image.registry).toMatchObject({ [SECRET_SIG_KEY]: SECRET_SIG, value: { server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", username: "AWS" } });
        }
    });

    it("installs every Helm release (metrics-server and both controllers) the same way: atomic, cleaned up on failure, bounded wait", () => {
        const releases = program.ofType("kubernetes:helm.sh/v3:Release");
        expect(releases.map((r) => r.name).sort()).toEqual([`${cluster}-aws-load-balancer-controller`, `${cluster}-cluster-autoscaler`, "platform-metrics-server"]);
        for (const r of releases) expect(r.inputs, r.name).toMatchObject({ atomic: true, cleanupOnFail: true, timeout: 600 });
    });

    it("runs at least three replicas of every service, spread over zones", () => {
        for (const d of program.k8s("HorizontalPodAutoscaler")) expect(d.spec?.minReplicas, d.metadata?.name).toBeGreaterThanOrEqual(3);
        for (const d of program.k8s("Deployment")) expect(JSON.stringify(d.spec)).toContain("topology.kubernetes.io/zone");
    });
});
