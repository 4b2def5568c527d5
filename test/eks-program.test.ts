/**
 * The whole program (index.ts) on the prod stack's EKS cluster, under mocks: the three services
 * deploy unchanged, each public one behind its own internet-facing NLB, admitting traffic from
 * the VPC, created only once nodes and the load-balancer controller are there, its image built
 * for the nodes' platform and pushed to its ECR repository.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SERVICE_NAMES } from "../components/config";
import { NLB_ANNOTATIONS } from "../components/cluster/eks";
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

    it("gives each public service its own internet-facing NLB with IP targets", () => {
        const services = program.k8s("Service").filter((s) => s.spec?.type === "LoadBalancer");
        expect(services.map((s) => s.metadata?.name).sort()).toEqual([...DEFAULT_SERVICE_NAMES].sort());
        for (const s of services) expect(s.metadata?.annotations).toEqual(NLB_ANNOTATIONS);
    });

    it("admits load-balancer traffic from the VPC CIDR in each service's NetworkPolicy", () => {
        const vpcCidr = "10.30.0.0/16";
        const policies = program.k8s("NetworkPolicy");
        for (const name of DEFAULT_SERVICE_NAMES) {
            const peers = policies.flatMap((p) => ((p.spec?.ingress as { from?: { ipBlock?: { cidr: string } }[] }[] | undefined) ?? []).flatMap((rule) => rule.from ?? []));
            expect(peers.some((peer) => peer.ipBlock?.cidr === vpcCidr), name).toBe(true);
        }
        expect(JSON.stringify(policies)).not.toContain("0.0.0.0/0");
    });

    it("creates the services only after every zone's node group, CoreDNS and the load-balancer controller", () => {
        const nodeGroups = [0, 1, 2].map((i) => `aws:eks/nodeGroup:NodeGroup::${cluster}-nodes-${i}`);
        for (const name of DEFAULT_SERVICE_NAMES) {
            const deps = program.named("kubeforge:microservice:Microservice", name).options.dependencies;
            for (const needed of [...nodeGroups, `aws:eks/addon:Addon::${cluster}-coredns`, `kubernetes:helm.sh/v3:Release::${cluster}-aws-load-balancer-controller`]) {
                expect(deps.some((urn) => urn.endsWith(needed)), `${name} waits for ${needed}`).toBe(true);
            }
        }
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
