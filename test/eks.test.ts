/**
 * The EKS flavour under Pulumi mocks, once with the prod and once with the staging stack config:
 * what an operator relies on, asserted on the inputs of the resources it declares.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { EksCluster } from "../components/cluster/eks/eks";
import { readFileSync } from "node:fs";
import { ADMIN_ACCESS_CHECK_FILE } from "../components/cluster/eks/access";
import { loadBalancerControllerPolicy } from "../components/cluster/eks/iam";
import type { RecordedResource } from "../scripts/mocks";
import { buildEksCluster, one, ofType, recorded, stackSettings, valueOf } from "./eks-mocks";

const AWS = "arn:aws:iam::aws:policy/";

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => v as Json;
const tagsOf = (r: RecordedResource): Record<string, string> => obj(r.inputs.tags) as Record<string, string>;

/** The managed-policy ARNs attached to the role created as `roleName`. */
function managedPoliciesOf(roleName: string): string[] {
    return ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        .filter((a) => a.inputs.role === roleName)
        .map((a) => String(a.inputs.policyArn));
}

/** Policy document of the customer-managed policy attached to a role. */
function policyOf(name: string): { Statement: Json[] } {
    return JSON.parse(String(one("aws:iam/policy:Policy", name).inputs.policy)) as { Statement: Json[] };
}

interface Built {
    cluster: EksCluster;
    name: string;
}

async function build(stack: string, override?: Parameters<typeof stackSettings>[1], as = stack): Promise<Built> {
    return { cluster: await buildEksCluster(stackSettings(stack, override, as)), name: `kubeforge-${as}` };
}

/** The node groups of a cluster, in zone order. */
function nodeGroupsOf(name: string): RecordedResource[] {
    return ofType("aws:eks/nodeGroup:NodeGroup", `${name}-nodes-`).sort((a, b) => a.name.localeCompare(b.name));
}

describe.each([
    { stack: "prod", zones: 3, nats: 3, production: true, instanceTypes: ["m6i.large", "m7i.large"], totals: { minSize: 3, desiredSize: 3, maxSize: 9 } },
    { stack: "staging", zones: 2, nats: 1, production: false, instanceTypes: ["t3.large", "t3a.large"], totals: { minSize: 2, desiredSize: 2, maxSize: 4 } },
])("EKS cluster for $stack", ({ stack, zones, nats, production, instanceTypes, totals }) => {
    let built: Built;
    let name: string;
    const warnings: string[] = [];
    beforeAll(async () => {
        const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(async (msg: string) => void warnings.push(msg));
        built = await build(stack);
        name = built.name;
        warn.mockRestore();
    });

    it("spreads public, private and internal load-balancer subnets over the configured zones; only the load-balancer subnets carry the controller's role tags", () => {
        const pub = ofType("aws:ec2/subnet:Subnet", `${name}-network-public-`);
        const priv = ofType("aws:ec2/subnet:Subnet", `${name}-network-private-`);
        const lb = ofType("aws:ec2/subnet:Subnet", `${name}-network-internal-lb-`);
        for (const kind of [pub, priv, lb]) {
            expect(kind).toHaveLength(zones);
            expect(new Set(kind.map((s) => s.inputs.availabilityZone)).size).toBe(zones);
            for (const s of kind) expect(s.inputs.mapPublicIpOnLaunch).toBe(false);
        }
        const cluster = { [`kubernetes.io/cluster/${name}`]: "shared" };
        for (const s of pub) expect(tagsOf(s)).toEqual({ Name: s.name, "kubernetes.io/role/elb": "1", ...cluster });
        for (const s of lb) expect(tagsOf(s)).toEqual({ Name: s.name, "kubernetes.io/role/internal-elb": "1", ...cluster });
        // The load-balancer controller's subnet discovery (v3.5.0 docs/deploy/subnet_discovery.md) picks
        // role-tagged subnets only: no internal NLB lands among the pods.
        for (const s of priv) expect(tagsOf(s)).toEqual({ Name: s.name, ...cluster });
        // Internal load balancers' subnets route only inside the VPC.
        const lbRoutes = one("aws:ec2/routeTable:RouteTable", `${name}-network-internal-lb`);
        expect(lbRoutes.inputs.routes).toEqual([]);
        for (const s of lb) expect(one("aws:ec2/routeTableAssociation:RouteTableAssociation", s.name).inputs).toMatchObject({ subnetId: `${s.name}-id`, routeTableId: `${lbRoutes.name}-id` });
    });

    it("logs all VPC traffic to CloudWatch with the configured retention", () => {
        const flow = one("aws:ec2/flowLog:FlowLog", `${name}-network-flow-logs`).inputs;
        expect(flow).toMatchObject({ vpcId: `${name}-network-vpc-id`, trafficType: "ALL", logDestinationType: "cloud-watch-logs" });
        expect(one("aws:cloudwatch/logGroup:LogGroup", `${name}-network-flow-logs`).inputs.retentionInDays).toBe(production ? 365 : 30);
    });

    it(`routes private subnets through ${nats} NAT gateway(s)`, () => {
        const natGateways = ofType("aws:ec2/natGateway:NatGateway", `${name}-network-`);
        expect(natGateways).toHaveLength(nats);
        const privateRoutes = ofType("aws:ec2/routeTable:RouteTable", `${name}-network-private-`);
        expect(privateRoutes).toHaveLength(zones);
        const targets = privateRoutes.map((rt) => obj((rt.inputs.routes as Json[])[0]).natGatewayId);
        expect(new Set(targets).size).toBe(nats);
    });

    it("runs the control plane with its own role, pinned version, KMS-encrypted secrets, audit logs and API access entries", async () => {
        expect(managedPoliciesOf(`${name}-cluster`)).toEqual([`${AWS}AmazonEKSClusterPolicy`]);
        const trust = JSON.parse(String(one("aws:iam/role:Role", `${name}-cluster`).inputs.assumeRolePolicy)) as { Statement: Json[] };
        expect(trust.Statement).toEqual([{ Effect: "Allow", Principal: { Service: "eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }]);

        const c = one("aws:eks/cluster:Cluster", `${name}-cluster`).inputs;
        expect(c.name).toBe(name);
        expect(c.version).toBe("1.35");
        // Not the API's default (EXTENDED): no silent move into paid extended support.
        expect(obj(c.upgradePolicy)).toEqual({ supportType: "STANDARD" });
        expect(c.enabledClusterLogTypes).toEqual(["api", "audit", "authenticator"]);
        expect(obj(c.accessConfig)).toEqual({ authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false });
        const keyArn = await valueOf(built.cluster.secretsKey.arn);
        expect(obj(c.encryptionConfig)).toEqual({ provider: { keyArn }, resources: ["secrets"] });
        expect(obj(c.vpcConfig).endpointPrivateAccess).toBe(true);
        expect(c.deletionProtection).toBe(production);

        const key = one("aws:kms/key:Key", `${name}-secrets`).inputs;
        expect(key.enableKeyRotation).toBe(true);
        const keyUse = one("aws:iam/rolePolicy:RolePolicy", `${name}-cluster-secrets-key`).inputs;
        expect(keyUse.role).toBe(`${name}-cluster`);
        expect(JSON.parse(String(keyUse.policy)).Statement[0].Resource).toBe(keyArn);
        const logs = one("aws:cloudwatch/logGroup:LogGroup", `${name}-cluster`).inputs;
        expect(logs.name).toBe(`/aws/eks/${name}/cluster`);
        expect(logs.retentionInDays).toBe(production ? 365 : 30);

        const admin = one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", `${name}-admin`).inputs;
        expect(admin).toMatchObject({
            principalArn: "arn:aws:iam::111122223333:role/kubeforge-platform-admin",
            policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            accessScope: { type: "cluster" },
        });
        expect(one("aws:eks/accessEntry:AccessEntry", `${name}-nodes`).inputs).toMatchObject({ type: "EC2_LINUX", principalArn: `arn:aws:iam::123456789012:role/${name}-nodes` });
    });

    it(production ? "allows the public endpoint only from operator CIDRs and protects the cluster and its key" : "opens the public endpoint (with a warning) and does not protect anything", () => {
        const vpc = obj(one("aws:eks/cluster:Cluster", `${name}-cluster`).inputs.vpcConfig);
        expect(vpc.endpointPublicAccess).toBe(true);
        expect(vpc.publicAccessCidrs).toEqual(production ? ["203.0.113.0/24"] : ["0.0.0.0/0"]);
        expect(warnings.filter((w) => w.startsWith(`${name}:`))).toEqual(production ? [] : [`${name}: the Kubernetes API endpoint accepts connections from anywhere (kubeforge:cluster.eks.publicAccessCidrs); list operator CIDRs outside staging`]);
        expect(one("aws:eks/cluster:Cluster", `${name}-cluster`).options.protect).toBe(production);
        expect(one("aws:kms/key:Key", `${name}-secrets`).options.protect).toBe(production);
    });

    it("warns, under mocks, about each example value the committed stack file carries, naming the key, the value and what to set", () => {
        expect(warnings.filter((w) => w.startsWith("kubeforge:"))).toEqual([
            `kubeforge:cluster.eks.adminPrincipalArn: "arn:aws:iam::111122223333:role/kubeforge-platform-admin" is a placeholder in AWS's documentation account 111122223333; set the ARN of the IAM role or user your operators and CI run pulumi as`,
            `kubeforge:cluster.eks.previewPrincipalArn: "arn:aws:iam::111122223333:role/kubeforge-preview" is a placeholder in AWS's documentation account 111122223333; set the ARN of the read-only IAM role CI previews and drift checks assume (docs/environments.md)`,
            ...(production ? [`kubeforge:cluster.eks.publicAccessCidrs[0]: "203.0.113.0/24" is a placeholder in the documentation range 203.0.113.0/24 (RFC 5737); set your operators' and CI runners' egress CIDRs, or [] for a private-only endpoint`] : []),
        ]);
    });

    it("gives nodes the worker, ECR read-only and CNI policies, IMDSv2 with one hop, encrypted gp3 roots and AL2023", () => {
        expect(managedPoliciesOf(`${name}-nodes`).sort()).toEqual([`${AWS}AmazonEC2ContainerRegistryReadOnly`, `${AWS}AmazonEKSWorkerNodePolicy`, `${AWS}AmazonEKS_CNI_Policy`]);
        const lt = one("aws:ec2/launchTemplate:LaunchTemplate", `${name}-nodes`).inputs;
        expect(obj(lt.metadataOptions)).toMatchObject({ httpTokens: "required", httpPutResponseHopLimit: 1 });
        expect(obj((lt.blockDeviceMappings as Json[])[0]).ebs).toMatchObject({ volumeType: "gp3", encrypted: "true" });
        const instanceTags = (lt.tagSpecifications as Json[]).find((t) => t.resourceType === "instance");
        expect(obj(instanceTags?.tags)).toMatchObject({ project: "kubeforge", stack, component: "cluster" });

        for (const ng of nodeGroupsOf(name)) {
            expect(ng.inputs.nodeRoleArn, ng.name).toBe(`arn:aws:iam::123456789012:role/${name}-nodes`);
            expect(ng.inputs.amiType, ng.name).toBe("AL2023_x86_64_STANDARD");
            expect(ng.inputs.capacityType, ng.name).toBe(production ? "ON_DEMAND" : "SPOT");
            expect(ng.inputs.instanceTypes, ng.name).toEqual(instanceTypes);
            expect(obj(ng.inputs.updateConfig), ng.name).toEqual({ maxUnavailablePercentage: 33 });
            expect(obj(ng.inputs.nodeRepairConfig), ng.name).toEqual({ enabled: true });
            expect(obj(ng.inputs.launchTemplate), ng.name).toEqual({ id: `${name}-nodes-id`, version: "1" });
            // Node-group tags would not reach the Auto Scaling group; EKS tags it for auto-discovery itself.
            expect(ng.inputs.tags, ng.name).toBeUndefined();
        }
    });

    it("runs one node group per zone, each only in its zone's private subnet, so the autoscaler can add a node in a given zone", () => {
        const groups = nodeGroupsOf(name);
        expect(groups.map((g) => g.name)).toEqual([...Array(zones).keys()].map((i) => `${name}-nodes-${i}`));
        const privateSubnets = ofType("aws:ec2/subnet:Subnet", `${name}-network-private-`);
        groups.forEach((g, i) => expect(g.inputs.subnetIds, g.name).toEqual([`${name}-network-private-${i}-id`]));
        // Between them the groups cover every private subnet, hence every zone, once.
        expect(groups.flatMap((g) => g.inputs.subnetIds as string[]).sort()).toEqual(privateSubnets.map((s) => `${s.name}-id`).sort());
    });

    it("sizes the zones' node groups equally, adding up to the configured cluster totals", () => {
        const sizes = nodeGroupsOf(name).map((g) => obj(g.inputs.scalingConfig) as typeof totals);
        for (const s of sizes) expect(s).toEqual(sizes[0]);
        for (const key of ["minSize", "desiredSize", "maxSize"] as const) expect(sizes.reduce((sum, s) => sum + s[key], 0), key).toBe(totals[key]);
    });

    it("leaves each group's node count to the Cluster Autoscaler after creation", () => {
        for (const ng of nodeGroupsOf(name)) expect(ng.options.ignoreChanges, ng.name).toEqual(["scalingConfig.desiredSize"]);
    });

    it("installs the EKS add-ons, the VPC CNI enforcing NetworkPolicy", () => {
        const addons = ofType("aws:eks/addon:Addon", name);
        expect(addons.map((a) => a.inputs.addonName).sort()).toEqual(["coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]);
        const cni = one("aws:eks/addon:Addon", `${name}-vpc-cni`).inputs;
        expect(JSON.parse(String(cni.configurationValues))).toEqual({ enableNetworkPolicy: "true" });
        // No version unless pinned: EKS picks one at creation and nothing looked up per preview can drift.
        for (const a of addons) expect(a.inputs.addonVersion, a.name).toBeUndefined();
    });

    it("runs the Cluster Autoscaler from its chart, discovering this cluster's node groups, with exactly the README's permissions", () => {
        const release = one("kubernetes:helm.sh/v3:Release", `${name}-cluster-autoscaler`).inputs;
        expect(release).toMatchObject({ name: "cluster-autoscaler", chart: "cluster-autoscaler", repositoryOpts: { repo: "https://kubernetes.github.io/autoscaler" }, namespace: "kube-system" });
        expect(release.version).toMatch(/^9\.\d+\.\d+$/);
        expect(obj(release.values)).toMatchObject({ cloudProvider: "aws", awsRegion: "eu-west-1", autoDiscovery: { clusterName: name }, rbac: { serviceAccount: { name: "cluster-autoscaler" } } });
        // The autoscaler's minor matches the control plane's.
        expect(obj(release.values)).toMatchObject({ image: { repository: "registry.k8s.io/autoscaling/cluster-autoscaler", tag: expect.stringMatching(/^v1\.35\.[0-9]+@sha256:/) } });

        const statements = policyOf(`${name}-cluster-autoscaler`).Statement;
        const actions = statements.flatMap((s) => s.Action as string[]).sort();
        expect(actions).toEqual([
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations",
            "autoscaling:DescribeScalingActivities",
            "autoscaling:SetDesiredCapacity",
            "autoscaling:TerminateInstanceInAutoScalingGroup",
            "ec2:DescribeImages",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:GetInstanceTypesFromInstanceRequirements",
            "eks:DescribeNodegroup",
        ]);
        const mutating = statements.find((s) => (s.Action as string[]).includes("autoscaling:SetDesiredCapacity"));
        expect(mutating?.Condition).toEqual({ Null: { "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "false", [`aws:ResourceTag/k8s.io/cluster-autoscaler/${name}`]: "false" } });
        // The chart's auto-discovery looks for the same two tag keys, values ignored (chart 9.59.0 values.yaml autoDiscovery.tags).
        expectPodIdentity(name, `${name}-cluster-autoscaler`, "cluster-autoscaler");
    });

    it("runs the AWS Load Balancer Controller from its chart with the official IAM policy", () => {
        const release = one("kubernetes:helm.sh/v3:Release", `${name}-aws-load-balancer-controller`).inputs;
        expect(release).toMatchObject({ name: "aws-load-balancer-controller", chart: "aws-load-balancer-controller", repositoryOpts: { repo: "https://aws.github.io/eks-charts" }, namespace: "kube-system" });
        expect(obj(release.values)).toMatchObject({ clusterName: name, region: "eu-west-1", vpcId: `${name}-network-vpc-id`, serviceAccount: { name: "aws-load-balancer-controller" }, replicaCount: 2, podDisruptionBudget: { maxUnavailable: 1 } });
        expect(policyOf(`${name}-aws-load-balancer-controller`)).toEqual(loadBalancerControllerPolicy());
        expectPodIdentity(name, `${name}-aws-load-balancer-controller`, "aws-load-balancer-controller");
    });

    it("installs both controllers atomically: a failed install or upgrade is rolled back and cleaned up, within ten minutes", () => {
        for (const controller of ["cluster-autoscaler", "aws-load-balancer-controller"]) {
            expect(one("kubernetes:helm.sh/v3:Release", `${name}-${controller}`).inputs, controller).toMatchObject({ atomic: true, cleanupOnFail: true, timeout: 600 });
        }
    });

    it("gives each load balancer its own NLB with IP targets and HTTP health checks in its scope's subnets, admitted only from those, and holds workloads for nodes and the controller", async () => {
        const zones = production ? 3 : 2;
        const subnets = (kind: string) => [...Array(zones).keys()].map((i) => one("aws:ec2/subnet:Subnet", `${name}-network-${kind}-${i}`));
        const publicLb = built.cluster.loadBalancer("public", "/ready");
        expect(await valueOf(publicLb.annotations)).toEqual({
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-subnets": subnets("public").map((s) => `${s.name}-id`).join(","),
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "http",
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": "traffic-port",
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path": "/ready",
            "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=false,deregistration_delay.timeout_seconds=30",
        });
        expect(publicLb.port).toBeUndefined();
        expect(publicLb.loadBalancerClass).toBe("service.k8s.aws/nlb");
        const internalLb = built.cluster.loadBalancer("internal", "/ready");
        expect(await valueOf(internalLb.annotations)).toEqual({
            ...(await valueOf(publicLb.annotations)),
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
            "service.beta.kubernetes.io/aws-load-balancer-subnets": subnets("internal-lb").map((s) => `${s.name}-id`).join(","),
        });
        expect(internalLb.loadBalancerClass).toBe("service.k8s.aws/nlb");
        expect(await Promise.all(publicLb.sourceRanges.map((r) => valueOf(r)))).toEqual(subnets("public").map((s) => s.inputs.cidrBlock));
        expect(await Promise.all(internalLb.sourceRanges.map((r) => valueOf(r)))).toEqual(subnets("internal-lb").map((s) => s.inputs.cidrBlock));
        expect(built.cluster.namespaceLabels).toEqual({ "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" });
        expect(built.cluster.drainSeconds).toBeGreaterThan(30);
        const deps = built.cluster.workloadDependencies.map((r) => (r as unknown as { __name: string }).__name);
        expect(deps).toEqual([...nodeGroupsOf(name).map((g) => g.name), `${name}-coredns`, `${name}-aws-load-balancer-controller`]);
        expect(built.cluster.hasZones).toBe(true);
    });

    it("pushes each built service to its own immutable, scanned ECR repository", async () => {
        const repos = ofType("aws:ecr/repository:Repository", name);
        expect(repos.map((r) => r.inputs.name).sort()).toEqual([`${name}/backend`, `${name}/messages`, `${name}/reports`]);
        for (const r of repos) {
            expect(r.inputs).toMatchObject({ imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true }, forceDelete: !production });
        }
        const lifecycle = JSON.parse(String(ofType("aws:ecr/lifecyclePolicy:LifecyclePolicy", name)[0]?.inputs.policy)) as { rules: Json[] };
        expect(obj(lifecycle.rules[0]).selection).toEqual({ tagStatus: "any", countType: "imageCountMoreThan", countNumber: production ? 50 : 10 });
        expect(await valueOf(built.cluster.registry.repository("backend"))).toBe(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/${name}/backend`);
        expect(await valueOf(built.cluster.registry.credentials)).toEqual({ server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", username: "AWS", password: "fake-ecr-password" });
        expect(() => built.cluster.registry.repository("nope")).toThrow('no ECR repository for service "nope"');
        expect(built.cluster.registry.platform).toBe("linux/amd64");
    });

    it("creates things in the order a real cluster needs them", () => {
        const dependsOn = (type: string, resource: string, ...needed: string[]) => {
            const deps = one(type, resource).options.dependencies;
            // `needed` is a name, or `type::name` where names repeat across types.
            for (const n of needed) expect(deps.some((urn) => urn.endsWith(n.includes("::") ? n : `::${n}`)), `${resource} waits for ${n}`).toBe(true);
        };
        dependsOn("aws:eks/cluster:Cluster", `${name}-cluster`, `aws:cloudwatch/logGroup:LogGroup::${name}-cluster`, `${name}-cluster-secrets-key`, `${name}-cluster-AmazonEKSClusterPolicy`);
        // Networking, service routing and pod credentials before nodes; DNS once nodes run in every zone.
        const groups = nodeGroupsOf(name).map((g) => `aws:eks/nodeGroup:NodeGroup::${g.name}`);
        expect(groups).toHaveLength(zones);
        for (const group of nodeGroupsOf(name)) {
            dependsOn("aws:eks/nodeGroup:NodeGroup", group.name, `${name}-vpc-cni`, `${name}-kube-proxy`, `${name}-eks-pod-identity-agent`, `${name}-nodes-AmazonEKSWorkerNodePolicy`, `aws:eks/accessEntry:AccessEntry::${name}-nodes`);
        }
        dependsOn("aws:eks/addon:Addon", `${name}-coredns`, ...groups);
        // The Kubernetes provider only once the admin can use the API: after its access policy
        // association, and after a check that an authorized request succeeds (access entries take
        // effect after a delay).
        dependsOn("command:local:Command", `${name}-admin-access`, `aws:eks/accessPolicyAssociation:AccessPolicyAssociation::${name}-admin`);
        dependsOn("pulumi:providers:kubernetes", `${name}-k8s`, `aws:eks/accessPolicyAssociation:AccessPolicyAssociation::${name}-admin`, `command:local:Command::${name}-admin-access`);
        const check = one("command:local:Command", `${name}-admin-access`).inputs;
        expect(check).toMatchObject({ interpreter: ["node", "--input-type=module", "-e"], environment: { CLUSTER: name, REGION: "eu-west-1", WAIT_SECONDS: "600" }, triggers: [`${name}-admin-id`] });
        expect(check.create).toBe(readFileSync(ADMIN_ACCESS_CHECK_FILE, "utf8"));
        // Every Kubernetes object of the cluster (the controllers' Helm releases) goes through that provider.
        const k8sResources = recorded().filter((r) => r.type.startsWith("kubernetes:") && r.name.startsWith(name));
        expect(k8sResources.length).toBeGreaterThan(0);
        for (const r of k8sResources) expect(r.options.provider, r.name).toContain(`::${name}-k8s::`);
        for (const controller of ["cluster-autoscaler", "aws-load-balancer-controller"]) {
            dependsOn("kubernetes:helm.sh/v3:Release", `${name}-${controller}`, ...groups, `${name}-coredns`, `${name}-${controller}`);
        }
    });

    it("tags every AWS resource through the provider's default tags", () => {
        const provider = one("pulumi:providers:aws", `${name}-aws`).inputs;
        expect(provider.region).toBe("eu-west-1");
        expect(JSON.parse(String(provider.defaultTags))).toEqual({ tags: { project: "kubeforge", stack, component: "cluster" } });
    });

    it("exports a kubeconfig that authenticates with aws eks get-token, and the cluster's identifiers", async () => {
        const kubeconfig = JSON.parse(await valueOf(built.cluster.kubeconfig)) as { users: { user: { exec: { command: string; args: string[] } } }[]; clusters: { cluster: { server: string } }[] };
        expect(kubeconfig.users[0]?.user.exec.command).toBe("aws");
        expect(kubeconfig.users[0]?.user.exec.args).toEqual(["eks", "get-token", "--cluster-name", name, "--region", "eu-west-1", "--output", "json"]);
        expect(kubeconfig.clusters[0]?.cluster.server).toBe(await valueOf(built.cluster.endpoint));
        expect(await valueOf(built.cluster.clusterName)).toBe(name);
        expect(await valueOf(built.cluster.oidcIssuer)).toMatch(/^https:\/\/oidc\.eks\.eu-west-1\.amazonaws\.com\/id\//);
        expect(await valueOf(built.cluster.nodeGroupNames)).toEqual([...Array(zones).keys()].map((i) => `${name}-nodes-${i}`));
    });
});

function expectPodIdentity(cluster: string, name: string, serviceAccount: string): void {
    const trust = JSON.parse(String(one("aws:iam/role:Role", name).inputs.assumeRolePolicy)) as { Statement: Json[] };
    expect(trust.Statement).toEqual([
        {
            Effect: "Allow",
            Principal: { Service: "pods.eks.amazonaws.com" },
            Action: ["sts:AssumeRole", "sts:TagSession"],
            Condition: { StringEquals: { "aws:RequestTag/eks-cluster-arn": `arn:aws:eks:eu-west-1:123456789012:cluster/${cluster}`, "aws:RequestTag/kubernetes-namespace": "kube-system", "aws:RequestTag/kubernetes-service-account": serviceAccount } },
        },
    ]);
    expect(managedPoliciesOf(name)).toEqual([`arn:aws:iam::123456789012:policy/${name}`]);
    expect(one("aws:eks/podIdentityAssociation:PodIdentityAssociation", name).inputs).toMatchObject({ namespace: "kube-system", serviceAccount, roleArn: `arn:aws:iam::123456789012:role/${name}` });
}

describe("EKS cluster in an existing VPC, Graviton nodes, a pinned add-on, a private endpoint, extended support", () => {
    const publicSubnetIds = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"];
    const privateSubnetIds = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"];
    const internalLoadBalancerSubnetIds = ["subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2"];
    const name = "kubeforge-byo";
    let built: Built;
    beforeAll(async () => {
        built = await build(
            "prod",
            (raw) => {
                const eks = obj(obj(raw.cluster).eks);
                eks.network = { vpcId: "vpc-0123456789abcdef0", publicSubnetIds, privateSubnetIds, internalLoadBalancerSubnetIds };
                eks.nodes = { instanceTypes: ["m7g.large", "c7g.large"], minSize: 2, maxSize: 6 };
                eks.addonVersions = { "vpc-cni": "v1.20.1-eksbuild.3" };
                eks.publicAccessCidrs = [];
                eks.supportType = "EXTENDED";
            },
            "byo",
        );
    });

    it("creates no network, only tags the given subnets for the cluster and the load balancers", () => {
        for (const type of ["aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/natGateway:NatGateway", "aws:ec2/flowLog:FlowLog"]) expect(ofType(type, name), type).toEqual([]);
        const tags = ofType("aws:ec2/tag:Tag", name).map((t) => `${String(t.inputs.resourceId)} ${String(t.inputs.key)}=${String(t.inputs.value)}`);
        expect(tags.sort()).toEqual(
            [
                ...publicSubnetIds.flatMap((id) => [`${id} kubernetes.io/role/elb=1`, `${id} kubernetes.io/cluster/${name}=shared`]),
                ...privateSubnetIds.map((id) => `${id} kubernetes.io/cluster/${name}=shared`),
                ...internalLoadBalancerSubnetIds.flatMap((id) => [`${id} kubernetes.io/role/internal-elb=1`, `${id} kubernetes.io/cluster/${name}=shared`]),
            ].sort(),
        );
        expect(obj(one("aws:eks/cluster:Cluster", `${name}-cluster`).inputs.vpcConfig).subnetIds).toEqual(privateSubnetIds);
        // One node group per given private subnet, each with an equal share of the cluster totals.
        expect(nodeGroupsOf(name).map((g) => [g.inputs.subnetIds, g.inputs.scalingConfig])).toEqual(privateSubnetIds.map((id) => [[id], { minSize: 1, desiredSize: 1, maxSize: 3 }]));
        expect(obj(one("kubernetes:helm.sh/v3:Release", `${name}-aws-load-balancer-controller`).inputs.values).vpcId).toBe("vpc-0123456789abcdef0");
    });

    it("opts into extended support when configured", () => {
        expect(obj(one("aws:eks/cluster:Cluster", `${name}-cluster`).inputs.upgradePolicy)).toEqual({ supportType: "EXTENDED" });
    });

    it("keeps the API endpoint private when no public CIDRs are given", () => {
        expect(obj(one("aws:eks/cluster:Cluster", `${name}-cluster`).inputs.vpcConfig)).toMatchObject({ endpointPrivateAccess: true, endpointPublicAccess: false });
        expect(obj(one("aws:eks/cluster:Cluster", `${name}-cluster`).inputs.vpcConfig).publicAccessCidrs).toBeUndefined();
    });

    it("places load balancers in the given public and internal load-balancer subnets and admits their CIDRs as the sources", async () => {
        const lb = async (scope: "public" | "internal") => {
            const spec = built.cluster.loadBalancer(scope, "/readyz");
            const annotations = await valueOf(spec.annotations);
            return { subnets: annotations["service.beta.kubernetes.io/aws-load-balancer-subnets"], ranges: await Promise.all(spec.sourceRanges.map((r) => valueOf(r))) };
        };
        const pub = await lb("public");
        const internal = await lb("internal");
        expect(pub.subnets).toBe(publicSubnetIds.join(","));
        expect(internal.subnets).toBe(internalLoadBalancerSubnetIds.join(","));
        // The fake answers a different /24 of 10.99.0.0/16 per subnet id (scripts/mocks.ts getSubnet).
        for (const cidr of [...pub.ranges, ...internal.ranges]) expect(cidr).toMatch(/^10\.99\.\d+\.0\/24$/);
        expect(new Set([...pub.ranges, ...internal.ranges]).size).toBe(4);
    });


    it("runs Graviton nodes on the AL2023 ARM AMI and builds images for linux/arm64", () => {
        for (const ng of nodeGroupsOf(name)) expect(ng.inputs.amiType, ng.name).toBe("AL2023_ARM_64_STANDARD");
        expect(built.cluster.registry.platform).toBe("linux/arm64");
    });

    it("installs a pinned add-on version as given and leaves the others to EKS", () => {
        expect(one("aws:eks/addon:Addon", `${name}-vpc-cni`).inputs.addonVersion).toBe("v1.20.1-eksbuild.3");
        expect(one("aws:eks/addon:Addon", `${name}-coredns`).inputs.addonVersion).toBeUndefined();
    });
});

describe("EKS cluster with a TLS certificate", () => {
    it("terminates TLS on 443 on internet-facing NLBs when given a certificate, and nowhere else", async () => {
        const arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab";
        const withTls = await build("prod", (raw) => {
            (raw.cluster as { eks: Record<string, unknown> }).eks.loadBalancerCertificateArn = arn;
        }, "tls");
        const publicLb = withTls.cluster.loadBalancer("public", "/readyz");
        expect(publicLb.port).toBe(443);
        expect(await valueOf(publicLb.annotations)).toMatchObject({
            "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": arn,
            "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "443",
            "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        });
        const internalLb = withTls.cluster.loadBalancer("internal", "/readyz");
        expect(internalLb.port).toBeUndefined();
        expect(Object.keys(await valueOf(internalLb.annotations)).filter((k) => k.includes("ssl"))).toEqual([]);
    });
});

// DescribeAvailabilityZones `state` is a zone's health of the moment ("available", "information",
// "impaired", "unavailable": @pulumi/aws 7.48.0 getAvailabilityZones.d.ts), and every subnet's
// zone is the zone list's entry at its index. Filtered by health, an impaired zone would move
// every later subnet to another zone (a replacement of subnets and node groups in the next
// preview, a failed drift check) or, with too few left, stop every preview and update during the
// outage. The zones come from the account's zone names, whatever their state.
describe("an EKS cluster's subnets while a zone is impaired", () => {
    it("keep their zones, and the program still runs", async () => {
        vi.spyOn(pulumi.log, "warn").mockImplementation(async () => undefined);
        await buildEksCluster(stackSettings("prod", undefined, "impaired"), { impairedZones: ["eu-west-1a"] });
        const zones = (kind: string) => [0, 1, 2].map((i) => one("aws:ec2/subnet:Subnet", `kubeforge-impaired-network-${kind}-${i}`).inputs.availabilityZone);
        for (const kind of ["public", "private", "internal-lb"]) expect(zones(kind), kind).toEqual(["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
    });
});
