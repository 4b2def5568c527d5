/**
 * Cluster flavour `eks`: an Amazon EKS cluster from `@pulumi/aws` primitives. A VPC over several
 * zones, a control plane with envelope-encrypted secrets, audit logs and access entries, one
 * managed node group per zone of Amazon Linux 2023 nodes (IMDSv2 only, encrypted gp3 roots), the
 * EKS add-ons, the Cluster Autoscaler and the AWS Load Balancer Controller (an NLB per public
 * Service), and ECR for images.
 *
 * Tags: the component creates its own `aws.Provider` whose `defaultTags` put `project`, `stack` and
 * `component` on every AWS resource; EC2 instances, volumes and network interfaces the node groups
 * launch get the same tags through the launch template's tag specifications.
 *
 * Example values in the stack config (an admin ARN in a documentation account, a public-access
 * CIDR in a documentation range) stop a real `pulumi up` before anything is created, and are
 * warnings under mocks and in previews ({@link guardPlaceholders}).
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, type Settings } from "../../config";
import { parseCidr } from "../../formats";
import type { EksSettings } from "./config";
import { realUpdate } from "../../runtime";
import { adminAccessCheck } from "./access";
import { ADDONS_BEFORE_NODES, eksAddon } from "./addons";
import { ElastiCacheStore } from "./cache";
import { clusterAutoscaler, CONTROLLER_NAMESPACE, LOAD_BALANCER_CLASS, loadBalancerController } from "./controllers";
import { CLUSTER_ROLE_POLICIES, eksAccessPolicyArn, managedPolicyArn, NODE_ROLE_POLICIES, secretsKeyUsePolicy, serviceTrustPolicy } from "./iam";
import { EksNetwork } from "./network";
import { previewAccess, previewSecretsAccess } from "./preview-access";
import { EcrRegistry } from "./registry";
import { al2023AmiType, dockerPlatform, placeholderProblems, zonalScaling, zoneCount } from "./values";
import type { KubeCluster, LoadBalancerScope, LoadBalancerSpec, ManagedStoreArgs, PreviewReadArgs, StoreEndpoint } from "../types";

/** Control-plane log types shipped to CloudWatch. */
export const CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator"] as const;

/** Seconds a deregistering NLB target keeps its open connections (the AWS default is 300). */
export const DEREGISTRATION_DELAY_SECONDS = 30;

/**
 * Seconds a terminating pod keeps serving behind an NLB. The load-balancer controller deregisters
 * the pod's IP once it leaves the endpoints, but the NLB goes on opening new connections to it for
 * a while after (tens of seconds); past the deregistration delay the pod has had every chance.
 */
export const NLB_DRAIN_SECONDS = DEREGISTRATION_DELAY_SECONDS + 10;

/** ELB TLS policy for NLB listeners: TLS 1.3 and 1.2 only. */
export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/**
 * Annotations that make the AWS Load Balancer Controller give a Service of type LoadBalancer its
 * own NLB (internet-facing or internal) in exactly `subnetIds` (one per zone), sending traffic
 * straight to pod IPs from the NLB's own addresses (client-IP preservation off), health-checking
 * each pod over HTTP on its readiness path (so a draining pod leaves the target group), with a
 * short deregistration delay; with a certificate, a TLS listener on 443. Every key is one the controller parses at v3.5.0 (test/eks-load-balancer-controller.test.ts).
 */
export function nlbAnnotations(scope: LoadBalancerScope, healthPath: string, subnetIds: readonly string[], certificateArn?: string): Record<string, string> {
    const prefix = "service.beta.kubernetes.io/aws-load-balancer";
    return {
        [`${prefix}-type`]: "external",
        [`${prefix}-nlb-target-type`]: "ip",
        [`${prefix}-scheme`]: scope === "public" ? "internet-facing" : "internal",
        [`${prefix}-subnets`]: subnetIds.join(","),
        [`${prefix}-healthcheck-protocol`]: "http",
        [`${prefix}-healthcheck-port`]: "traffic-port",
        [`${prefix}-healthcheck-path`]: healthPath,
        // Client-IP preservation off (the default of IP targets, set so it stays): pods see the
        // NLB's own addresses, which is what their NetworkPolicy admits.
        [`${prefix}-target-group-attributes`]: `preserve_client_ip.enabled=false,deregistration_delay.timeout_seconds=${DEREGISTRATION_DELAY_SECONDS}`,
        ...(certificateArn ? {
            [`${prefix}-ssl-cert`]: certificateArn,
            [`${prefix}-ssl-ports`]: "443",
            [`${prefix}-ssl-negotiation-policy`]: TLS_POLICY,
        } : {}),
    };
}

/** Namespace label that has the load-balancer controller inject pod readiness gates: a rolled-out pod only counts as ready once its NLB target is healthy. */
export const READINESS_GATE_LABEL = { "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" } as const;

/** Tags every AWS resource of the cluster carries. */
export function resourceTags(project: string, stack: string): Record<string, string> {
    return { project, stack, component: "cluster" };
}

/**
 * Handle example values left in the stack config ({@link placeholderProblems}): during a real
 * update throw them as one `RunError` (a line each), before anything is created, because AWS would
 * accept the protected KMS key and cluster and only then fail; under mocks and in previews `warn`
 * each line, so synth, tests and `pulumi preview` of the committed stack files still work.
 */
export function guardPlaceholders(problems: readonly string[], update: boolean, warn: (line: string) => void): void {
    if (problems.length === 0) return;
    if (update) throw new pulumi.RunError(problems.join("\n"));
    for (const line of problems) warn(line);
}

/** Kubeconfig that authenticates with `aws eks get-token` (the caller's AWS credentials). */
export function eksKubeconfig(clusterName: string, endpoint: string, caData: string, region: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: clusterName, cluster: { server: endpoint, "certificate-authority-data": caData } }],
        users: [
            {
                name: clusterName,
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "aws",
                        args: ["eks", "get-token", "--cluster-name", clusterName, "--region", region, "--output", "json"],
                        interactiveMode: "Never",
                    },
                },
            },
        ],
        contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
        "current-context": clusterName,
    });
}

export interface EksClusterArgs {
    /**
     * Validated settings. Reads `cluster.eks` (all EKS keys and the region from `aws:region`),
     * `environment` (production protects the cluster and its key and keeps ECR images on destroy),
     * `project`/`stack` (tags) and `services` (an ECR repository for each one with `build`).
     */
    settings: Settings;
}

/** An EKS cluster implementing {@link KubeCluster}. */
export class EksCluster extends pulumi.ComponentResource implements KubeCluster {
    readonly flavour = "eks" as const;
    readonly provider: k8s.Provider;
    readonly kubeconfig: pulumi.Output<string>;
    readonly clusterName: pulumi.Output<string>;
    readonly drainSeconds = NLB_DRAIN_SECONDS;
    readonly namespaceLabels: Record<string, string> = { ...READINESS_GATE_LABEL };
    /** The subnets each scope's NLBs are placed in, and their CIDRs (see {@link loadBalancer}). */
    private readonly loadBalancerSubnets: Record<LoadBalancerScope, { ids: pulumi.Input<string>[]; cidrs: pulumi.Input<string>[] }>;
    /** ACM certificate of the TLS listeners of internet-facing NLBs, if any. */
    private readonly certificateArn?: string;
    readonly hasZones = true;
    readonly kubeletInsecureTls = false;
    readonly registry: EcrRegistry;
    readonly workloadDependencies: pulumi.Resource[];
    readonly details: Record<string, pulumi.Input<string | string[]>>;
    /** API server endpoint. */
    readonly endpoint: pulumi.Output<string>;
    /** OIDC issuer URL of the cluster (for IRSA, should anything need it). */
    readonly oidcIssuer: pulumi.Output<string>;
    /** Names of the managed node groups, one per zone in zone order. */
    readonly nodeGroupNames: pulumi.Output<string[]>;
    /** The control plane (protected in production). */
    readonly cluster: aws.eks.Cluster;
    /** KMS key encrypting Kubernetes secrets (protected in production). */
    readonly secretsKey: aws.kms.Key;
    /** Whether a preview principal has access (`kubeforge:cluster.eks.previewPrincipalArn`), so Secrets the program declares are made readable to it. */
    private readonly hasPreviewPrincipal: boolean;
    /** What a managed store needs of the cluster: its network, its nodes' security group, the AWS provider. */
    private readonly storePlacement: Omit<ConstructorParameters<typeof ElastiCacheStore>[1], keyof ManagedStoreArgs>;

    constructor(name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:cluster:EksCluster", name, {}, opts);
        const { settings } = args;
        const eks: EksSettings = settings.cluster.eks;
        if (!eks.region) throw new Error(`${name}: the eks flavour needs a region (set aws:region)`);
        if (!eks.adminPrincipalArn) throw new Error(`${name}: the eks flavour needs kubeforge:cluster.eks.adminPrincipalArn`);
        guardPlaceholders(placeholderProblems(eks, CONFIG_NAMESPACE), realUpdate(), (line) => void pulumi.log.warn(line, this));
        const amiType = al2023AmiType(eks.nodes.instanceTypes);
        // The configured counts are cluster totals; each zone's node group gets an equal share.
        const zoneNodes = zonalScaling(eks.nodes, zoneCount(eks.network));
        const production = settings.environment === "production";
        if (eks.publicAccessCidrs.some((c) => parseCidr(c)?.prefix === 0)) {
            pulumi.log.warn(`${name}: the Kubernetes API endpoint accepts connections from anywhere (kubeforge:cluster.eks.publicAccessCidrs); list operator CIDRs outside staging`, this);
        }

        const tags = resourceTags(settings.project, settings.stack);
        const awsProvider = new aws.Provider(`${name}-aws`, { region: eks.region as aws.Region, defaultTags: { tags } }, { parent: this });
        const childOpts = { parent: this, provider: awsProvider };
        const partition = aws.getPartitionOutput({}, childOpts);
        const policyArn = (policy: string) => partition.partition.apply((p) => managedPolicyArn(p, policy));

        const network = new EksNetwork(`${name}-network`, { clusterName: name, network: eks.network, logRetentionDays: eks.logRetentionDays, provider: awsProvider }, { parent: this });

        // Control plane.
        const clusterRole = new aws.iam.Role(`${name}-cluster`, { assumeRolePolicy: JSON.stringify(serviceTrustPolicy("eks.amazonaws.com")), description: `EKS control plane of ${name}` }, childOpts);
        const clusterRolePolicies = CLUSTER_ROLE_POLICIES.map((p) => new aws.iam.RolePolicyAttachment(`${name}-cluster-${p}`, { role: clusterRole.name, policyArn: policyArn(p) }, childOpts));
        this.secretsKey = new aws.kms.Key(
            `${name}-secrets`,
            { description: `Envelope encryption of Kubernetes secrets in EKS cluster ${name}`, enableKeyRotation: true, deletionWindowInDays: 30 },
            { ...childOpts, protect: production },
        );
        new aws.kms.Alias(`${name}-secrets`, { name: `alias/${name}-eks-secrets`, targetKeyId: this.secretsKey.keyId }, childOpts);
        const secretsKeyUse = new aws.iam.RolePolicy(`${name}-cluster-secrets-key`, { role: clusterRole.name, policy: this.secretsKey.arn.apply((arn) => JSON.stringify(secretsKeyUsePolicy(arn))) }, childOpts);
        // Created before the cluster so EKS writes into a group with a retention, not one it creates without.
        const logGroup = new aws.cloudwatch.LogGroup(`${name}-cluster`, { name: `/aws/eks/${name}/cluster`, retentionInDays: eks.logRetentionDays }, childOpts);
        const publicEndpoint = eks.publicAccessCidrs.length > 0;
        this.cluster = new aws.eks.Cluster(
            `${name}-cluster`,
            {
                name,
                version: eks.kubernetesVersion,
                // The API defaults to EXTENDED, which moves the cluster into paid extended support.
                upgradePolicy: { supportType: eks.supportType },
                roleArn: clusterRole.arn,
                vpcConfig: {
                    subnetIds: network.privateSubnetIds,
                    endpointPrivateAccess: true,
                    endpointPublicAccess: publicEndpoint,
                    publicAccessCidrs: publicEndpoint ? eks.publicAccessCidrs : undefined,
                },
                encryptionConfig: { provider: { keyArn: this.secretsKey.arn }, resources: ["secrets"] },
                enabledClusterLogTypes: [...CONTROL_PLANE_LOG_TYPES],
                accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false },
                // The add-ons below are EKS-managed; no unmanaged copies alongside them.
                bootstrapSelfManagedAddons: false,
                deletionProtection: production,
            },
            { ...childOpts, protect: production, dependsOn: [logGroup, secretsKeyUse, ...clusterRolePolicies] },
        );
        const clusterName = this.cluster.name;

        const admin = new aws.eks.AccessEntry(`${name}-admin`, { clusterName, principalArn: eks.adminPrincipalArn, type: "STANDARD" }, childOpts);
        const adminPolicy = new aws.eks.AccessPolicyAssociation(
            `${name}-admin`,
            { clusterName, principalArn: admin.principalArn, policyArn: partition.partition.apply((p) => eksAccessPolicyArn(p, "AmazonEKSClusterAdminPolicy")), accessScope: { type: "cluster" } },
            childOpts,
        );

        // Nodes.
        const nodeRole = new aws.iam.Role(`${name}-nodes`, { assumeRolePolicy: partition.dnsSuffix.apply((s) => JSON.stringify(serviceTrustPolicy(`ec2.${s}`, false))), description: `EKS nodes of ${name}` }, childOpts);
        const nodeRolePolicies = NODE_ROLE_POLICIES.map((p) => new aws.iam.RolePolicyAttachment(`${name}-nodes-${p}`, { role: nodeRole.name, policyArn: policyArn(p) }, childOpts));
        // Created before the node groups, which then use it rather than making their own, and owned
        // here so that it is replaced with the role (an entry outliving its role stops working).
        const nodeAccess = new aws.eks.AccessEntry(`${name}-nodes`, { clusterName, principalArn: nodeRole.arn, type: "EC2_LINUX" }, childOpts);
        const launchTemplate = new aws.ec2.LaunchTemplate(
            `${name}-nodes`,
            {
                description: `Nodes of EKS cluster ${name}`,
                updateDefaultVersion: true,
                // IMDSv2 only, one hop: pods cannot reach the instance's credentials; they get their own through Pod Identity.
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
                blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: eks.nodes.diskSizeGiB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
                tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags: { ...tags, Name: `${name}-node` } })),
            },
            childOpts,
        );
        const addonArgs = (addon: keyof EksSettings["addonVersions"]) => ({ clusterName, version: eks.addonVersions[addon] });
        const nodeAddons = ADDONS_BEFORE_NODES.map((addon) => eksAddon(name, addon, addonArgs(addon), childOpts));
        // One node group per zone, each in its zone's private subnet. Services spread pods over zones
        // as a hard constraint; the Cluster Autoscaler models a new node on a group's template, so
        // only a single-zone group lets it add a node in the zone a pending pod needs (its AWS
        // README; the EKS best-practices guide). `balance-similar-node-groups` grows them evenly.
        const nodeGroups = network.privateSubnetIds.map(
            (subnetId, i) =>
                new aws.eks.NodeGroup(
                    `${name}-nodes-${i}`,
                    {
                        clusterName,
                        version: eks.kubernetesVersion,
                        nodeRoleArn: nodeRole.arn,
                        subnetIds: [subnetId],
                        amiType,
                        capacityType: eks.nodes.capacityType,
                        instanceTypes: eks.nodes.instanceTypes,
                        scalingConfig: zoneNodes,
                        updateConfig: { maxUnavailablePercentage: eks.nodes.maxUnavailablePercentage },
                        launchTemplate: { id: launchTemplate.id, version: launchTemplate.latestVersion.apply(String) },
                        nodeRepairConfig: { enabled: true },
                        // No Cluster Autoscaler tags here: tags of a node group stay on the node group
                        // (the EKS API reference of Nodegroup `tags` says they do not propagate, its
                        // Auto Scaling group included; not re-read offline). EKS tags the group for
                        // auto-discovery itself: "Nodes launched as part of a managed node group are
                        // automatically tagged for auto-discovery by the Kubernetes Cluster Autoscaler"
                        // (awsdocs/amazon-eks-user-guide latest/ug/nodes/managed-node-groups.adoc).
                    },
                    // The Cluster Autoscaler owns the node count once the group exists.
                    // After the private subnets' NAT routes: nodes pull images and fetch Pod Identity
                    // credentials through them, and on destroy everything on the nodes (the
                    // load-balancer controller deleting its NLBs) goes before the routes do.
                    { ...childOpts, dependsOn: [...nodeRolePolicies, nodeAccess, ...nodeAddons, ...network.privateEgress], ignoreChanges: ["scalingConfig.desiredSize"] },
                ),
        );
        const coredns = eksAddon(name, "coredns", addonArgs("coredns"), { ...childOpts, dependsOn: nodeGroups });

        // Kubernetes access and in-cluster controllers.
        this.kubeconfig = pulumi.secret(
            pulumi.all([clusterName, this.cluster.endpoint, this.cluster.certificateAuthority.data]).apply(([n, endpoint, ca]) => eksKubeconfig(n, endpoint, ca, eks.region)),
        );
        // Nothing talks to the API until the admin access entry is in effect (./access.ts).
        const adminAccess = adminAccessCheck(
            `${name}-admin-access`,
            { clusterName, region: eks.region, endpoint: this.cluster.endpoint, certificateAuthorityData: this.cluster.certificateAuthority.data, association: adminPolicy },
            { parent: this, dependsOn: [adminPolicy] },
        );
        this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this, dependsOn: [adminPolicy, adminAccess] });
        this.hasPreviewPrincipal = eks.previewPrincipalArn !== undefined;
        if (eks.previewPrincipalArn) {
            // Every Helm release of the program is in kube-system: the controllers' and metrics-server's (components/platform.ts).
            previewAccess(name, { clusterName, partition: partition.partition, principalArn: eks.previewPrincipalArn, releaseNamespaces: [CONTROLLER_NAMESPACE], k8sProvider: this.provider, awsProvider }, this);
        }
        // Controllers and workloads need nodes and cluster DNS.
        const running = [...nodeGroups, coredns];
        const controllerArgs = { clusterName, clusterArn: this.cluster.arn, kubernetesVersion: eks.kubernetesVersion, region: eks.region, k8sProvider: this.provider, awsProvider, dependsOn: running };
        clusterAutoscaler(name, controllerArgs, this);
        const lbController = loadBalancerController(name, network.vpcId, controllerArgs, this);

        this.registry = new EcrRegistry(
            `${name}-images`,
            {
                prefix: name,
                services: settings.services.filter((s) => s.build !== undefined).map((s) => s.name),
                keepImages: eks.keepImages,
                forceDelete: !production,
                platform: dockerPlatform(amiType),
                provider: awsProvider,
            },
            { parent: this },
        );

        this.clusterName = clusterName;
        this.endpoint = this.cluster.endpoint;
        this.oidcIssuer = this.cluster.identities.apply((ids) => ids[0]?.oidcs?.[0]?.issuer ?? "");
        this.nodeGroupNames = pulumi.all(nodeGroups.map((g) => g.nodeGroupName));
        this.loadBalancerSubnets = {
            public: { ids: network.publicSubnetIds, cidrs: network.publicSubnetCidrs },
            internal: { ids: network.internalLoadBalancerSubnetIds, cidrs: network.internalLoadBalancerSubnetCidrs },
        };
        this.storePlacement = {
            vpcId: network.vpcId,
            subnetIds: network.privateSubnetIds,
            subnetCidrs: network.privateSubnetCidrs,
            clientSecurityGroupId: this.cluster.vpcConfig.clusterSecurityGroupId,
            production,
            snapshotPrefix: name,
            provider: awsProvider,
        };
        this.certificateArn = eks.loadBalancerCertificateArn;
        // The services' pods get their NLB readiness gates from the controller's pod webhook, which
        // fails open: pods created before the controller runs would roll out without them.
        this.workloadDependencies = [...running, lbController];
        this.details = { endpoint: this.endpoint, oidcIssuer: this.oidcIssuer, nodeGroupNames: this.nodeGroupNames, region: eks.region };
        this.registerOutputs({ clusterName: this.clusterName, endpoint: this.endpoint, oidcIssuer: this.oidcIssuer, nodeGroupNames: this.nodeGroupNames });
    }

    /**
     * Its own NLB with IP targets, of the load-balancer controller's class, in the scope's own
     * subnets: the public ones for an internet-facing NLB, the internal load-balancer subnets for an
     * internal one. With IP targets and client-IP preservation off (their default), an NLB reaches
     * pods from its own interfaces' addresses, health checks included (aws-load-balancer-controller
     * v3.5.0 docs/guide/service/nlb.md: "NLB Subnet CIDRs"), and no node or pod takes an address in
     * those subnets: so a service admits exactly its load balancers, not every pod of the VPC.
     */
    loadBalancer(scope: LoadBalancerScope, healthPath: string): LoadBalancerSpec {
        const subnets = this.loadBalancerSubnets[scope];
        if (subnets.ids.length === 0) throw new Error(`the EKS cluster has no subnets for ${scope} load balancers (set kubeforge:cluster.eks.network.internalLoadBalancerSubnetIds)`);
        const tls = scope === "public" ? this.certificateArn : undefined;
        return {
            annotations: pulumi.all(subnets.ids).apply((ids) => nlbAnnotations(scope, healthPath, ids, tls)),
            loadBalancerClass: LOAD_BALANCER_CLASS,
            // aws-load-balancer-controller v3.5.0 pkg/inject/pod_readiness/pod_readiness_gate.go
            // injects a gate per TargetGroupBinding found when the pod is created; the controller
            // creates the binding before it writes the Service's status (pkg/deploy/stack_deployer.go,
            // controllers/service/service_controller.go), which is what Pulumi waits for.
            gatesPodReadiness: true,
            sourceRanges: subnets.cidrs,
            ...(tls ? { port: 443 } : {}),
        };
    }

    /** With a preview principal, a Role that lets it `get` exactly these Secrets ({@link previewSecretsAccess}). */
    grantPreviewRead(name: string, args: PreviewReadArgs, opts: pulumi.ComponentResourceOptions): void {
        if (this.hasPreviewPrincipal) previewSecretsAccess(name, args, { parent: opts.parent, provider: this.provider });
    }

    /** ElastiCache for Valkey in the private subnets, reachable from the cluster's nodes and pods ({@link ElastiCacheStore}). */
    managedStore(name: string, args: ManagedStoreArgs, opts: pulumi.ComponentResourceOptions): StoreEndpoint {
        return new ElastiCacheStore(name, { ...args, ...this.storePlacement }, opts);
    }
}
