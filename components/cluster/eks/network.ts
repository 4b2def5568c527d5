/**
 * The EKS cluster's network: a VPC with, per availability zone, a public subnet (NAT gateways,
 * internet-facing load balancers), a private subnet (nodes and pods) and a small subnet for
 * internal load balancers alone, so a NetworkPolicy can admit an internal load balancer's
 * addresses without admitting the pods; NAT for the private subnets; the subnet tags the AWS Load
 * Balancer Controller discovers subnets by. Or an existing VPC and subnets, tagged the same way.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { EksSettings } from "./config";
import { flowLogsWritePolicy, serviceTrustPolicy } from "./iam";
import { subnetLayout } from "./values";

/** Tag marking a subnet usable by a cluster (`kubernetes.io/cluster/<name>: shared`). */
export function clusterTagKey(clusterName: string): string {
    return `kubernetes.io/cluster/${clusterName}`;
}

/** Tag the load-balancer controller picks subnets for internet-facing load balancers by. */
export const PUBLIC_ELB_TAG = "kubernetes.io/role/elb";
/** Tag the load-balancer controller picks subnets for internal load balancers by (only the internal load-balancer subnets carry it). */
export const INTERNAL_ELB_TAG = "kubernetes.io/role/internal-elb";

export interface EksNetworkArgs {
    /** Cluster the subnets are tagged for. */
    clusterName: string;
    /** Zones, VPC CIDR and NAT layout, or an existing VPC with its subnets (then nothing but tags is created). */
    network: EksSettings["network"];
    /** Retention in days of the VPC flow logs of a created VPC. */
    logRetentionDays: number;
    /** AWS provider every resource is created with (carries the region and default tags). */
    provider: aws.Provider;
}

/** A VPC (created or existing) with public and private subnets across zones. */
export class EksNetwork extends pulumi.ComponentResource {
    /** The VPC's id. */
    readonly vpcId: pulumi.Output<string>;
    /** The VPC's IPv4 CIDR (pod and node addresses come from it). */
    readonly vpcCidr: pulumi.Output<string>;
    /** Public subnets, one per zone: NAT gateways and internet-facing load balancers. */
    readonly publicSubnetIds: pulumi.Output<string>[];
    /**
     * Private subnets, one per zone (so as many as there are zones, known before deployment):
     * nodes, pods and the control plane's network interfaces.
     */
    readonly privateSubnetIds: pulumi.Output<string>[];
    /** IPv4 CIDRs of the public subnets, where internet-facing load balancers' interfaces live. */
    readonly publicSubnetCidrs: pulumi.Output<string>[];
    /** IPv4 CIDRs of the private subnets, where nodes and pods take their addresses. */
    readonly privateSubnetCidrs: pulumi.Output<string>[];
    /** Subnets of internal load balancers, one per zone; empty for an existing VPC that names none. */
    readonly internalLoadBalancerSubnetIds: pulumi.Output<string>[];
    /** IPv4 CIDRs of {@link internalLoadBalancerSubnetIds}: the addresses internal NLBs reach pods from. */
    readonly internalLoadBalancerSubnetCidrs: pulumi.Output<string>[];
    /**
     * The private subnets' way out of the VPC: their route tables' associations (each table routes
     * to a NAT gateway, which needs the internet gateway). The nodes need it from their first boot
     * (images from ECR and registry.k8s.io, the EKS Auth API for Pod Identity), and the
     * load-balancer controller needs it to delete its NLBs on `pulumi destroy`: whatever runs on
     * the nodes must be created after it and deleted before it, which no data flow says. Empty for
     * an existing VPC, whose routes are not the program's.
     */
    readonly privateEgress: pulumi.Resource[];

    constructor(name: string, args: EksNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:cluster:EksNetwork", name, {}, opts);
        const { network, clusterName, provider } = args;
        const childOpts = { parent: this, provider };
        const clusterTag = { [clusterTagKey(clusterName)]: "shared" };

        if (network.vpcId !== undefined && network.publicSubnetIds && network.privateSubnetIds) {
            this.vpcId = pulumi.output(network.vpcId);
            this.vpcCidr = aws.ec2.getVpcOutput({ id: network.vpcId }, childOpts).cidrBlock;
            this.publicSubnetIds = network.publicSubnetIds.map((id) => pulumi.output(id));
            this.privateSubnetIds = network.privateSubnetIds.map((id) => pulumi.output(id));
            const internalLbIds = network.internalLoadBalancerSubnetIds ?? [];
            this.internalLoadBalancerSubnetIds = internalLbIds.map((id) => pulumi.output(id));
            const cidrOf = (id: string) => aws.ec2.getSubnetOutput({ id }, childOpts).cidrBlock;
            this.publicSubnetCidrs = network.publicSubnetIds.map(cidrOf);
            this.privateSubnetCidrs = network.privateSubnetIds.map(cidrOf);
            this.internalLoadBalancerSubnetCidrs = internalLbIds.map(cidrOf);
            // Existing subnets get the tags the load-balancer controller discovers them by; the
            // private ones only the cluster tag, so no internal load balancer lands among the pods.
            const tagSubnets = (ids: string[], roleTag?: string) =>
                ids.forEach((id) => {
                    for (const [key, value] of Object.entries({ ...clusterTag, ...(roleTag ? { [roleTag]: "1" } : {}) })) {
                        new aws.ec2.Tag(`${name}-${id}-${key.replace(/\//g, "-")}`, { resourceId: id, key, value }, childOpts);
                    }
                });
            tagSubnets(network.publicSubnetIds, PUBLIC_ELB_TAG);
            tagSubnets(network.privateSubnetIds);
            tagSubnets(internalLbIds, INTERNAL_ELB_TAG);
            this.privateEgress = [];
        } else {
            const zones = network.availabilityZones;
            const layout = subnetLayout(network.vpcCidr, zones);
            // Every zone of the region the account has without opting in, in name order, whatever its
            // health: subnet i goes to zone i, so a list filtered by `state` would shift the subnets
            // (and replace them and their node groups) or stop every update while a zone is impaired.
            const zoneNames = aws
                .getAvailabilityZonesOutput({ filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] }, childOpts)
                .names.apply((names) => {
                    if (names.length < zones) throw new Error(`${name}: the region has ${names.length} availability zones, fewer than the ${zones} configured`);
                    return [...names].sort();
                });
            const vpc = new aws.ec2.Vpc(`${name}-vpc`, { cidrBlock: network.vpcCidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: name } }, childOpts);
            // Nothing uses the VPC's default security group; adopting it with no rules closes it.
            new aws.ec2.DefaultSecurityGroup(`${name}-default-sg`, { vpcId: vpc.id, tags: { Name: `${name}-default-unused` } }, childOpts);
            // Flow logs of all traffic, for incident response and NetworkPolicy debugging.
            const flowLogGroup = new aws.cloudwatch.LogGroup(`${name}-flow-logs`, { name: `/aws/vpc/${clusterName}/flow-logs`, retentionInDays: args.logRetentionDays }, childOpts);
            const flowLogRole = new aws.iam.Role(`${name}-flow-logs`, { assumeRolePolicy: JSON.stringify(serviceTrustPolicy("vpc-flow-logs.amazonaws.com", false)), description: `VPC flow logs of ${clusterName}` }, childOpts);
            const flowLogWrite = new aws.iam.RolePolicy(`${name}-flow-logs`, { role: flowLogRole.name, policy: flowLogGroup.arn.apply((arn) => JSON.stringify(flowLogsWritePolicy(arn))) }, childOpts);
            new aws.ec2.FlowLog(
                `${name}-flow-logs`,
                { vpcId: vpc.id, trafficType: "ALL", logDestinationType: "cloud-watch-logs", logDestination: flowLogGroup.arn, iamRoleArn: flowLogRole.arn, maxAggregationInterval: 60 },
                { ...childOpts, dependsOn: [flowLogWrite] },
            );
            const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { Name: name } }, childOpts);
            const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }], tags: { Name: `${name}-public` } }, childOpts);

            const kinds = { public: "public", private: "private", internalLoadBalancer: "internal-lb" } as const;
            const subnet = (kind: keyof typeof kinds, i: number, roleTag?: string) =>
                new aws.ec2.Subnet(
                    `${name}-${kinds[kind]}-${i}`,
                    {
                        vpcId: vpc.id,
                        cidrBlock: layout[kind][i] ?? "",
                        availabilityZone: zoneNames.apply((n) => n[i] ?? ""),
                        mapPublicIpOnLaunch: false,
                        tags: { Name: `${name}-${kinds[kind]}-${i}`, ...(roleTag ? { [roleTag]: "1" } : {}), ...clusterTag },
                    },
                    childOpts,
                );
            const zoneIndexes = [...Array(zones).keys()];
            const publicSubnets = zoneIndexes.map((i) => subnet("public", i, PUBLIC_ELB_TAG));
            const privateSubnets = zoneIndexes.map((i) => subnet("private", i));
            const internalLbSubnets = zoneIndexes.map((i) => subnet("internalLoadBalancer", i, INTERNAL_ELB_TAG));
            publicSubnets.forEach((s, i) => new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: s.id, routeTableId: publicRoutes.id }, childOpts));
            // Internal load balancers talk only inside the VPC: a table with just the local route,
            // so what the VPC's main route table holds never matters to them.
            const internalLbRoutes = new aws.ec2.RouteTable(`${name}-internal-lb`, { vpcId: vpc.id, routes: [], tags: { Name: `${name}-internal-lb` } }, childOpts);
            internalLbSubnets.forEach((s, i) => new aws.ec2.RouteTableAssociation(`${name}-internal-lb-${i}`, { subnetId: s.id, routeTableId: internalLbRoutes.id }, childOpts));

            // One NAT gateway per zone keeps a zone outage from cutting the others off; `single` saves money.
            const natCount = network.natGateways === "perZone" ? zones : 1;
            const nats = zoneIndexes.slice(0, natCount).map((i) => {
                const eip = new aws.ec2.Eip(`${name}-nat-${i}`, { domain: "vpc", tags: { Name: `${name}-nat-${i}` } }, childOpts);
                return new aws.ec2.NatGateway(`${name}-nat-${i}`, { allocationId: eip.id, subnetId: publicSubnets[i]?.id ?? "", tags: { Name: `${name}-nat-${i}` } }, { ...childOpts, dependsOn: [igw] });
            });
            this.privateEgress = privateSubnets.map((s, i) => {
                const nat = nats[natCount === zones ? i : 0];
                const routes = new aws.ec2.RouteTable(`${name}-private-${i}`, { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nat?.id }], tags: { Name: `${name}-private-${i}` } }, childOpts);
                return new aws.ec2.RouteTableAssociation(`${name}-private-${i}`, { subnetId: s.id, routeTableId: routes.id }, childOpts);
            });

            this.vpcId = vpc.id;
            this.vpcCidr = vpc.cidrBlock;
            this.publicSubnetIds = publicSubnets.map((s) => s.id);
            this.privateSubnetIds = privateSubnets.map((s) => s.id);
            this.publicSubnetCidrs = publicSubnets.map((s) => s.cidrBlock);
            this.privateSubnetCidrs = privateSubnets.map((s) => s.cidrBlock);
            this.internalLoadBalancerSubnetIds = internalLbSubnets.map((s) => s.id);
            this.internalLoadBalancerSubnetCidrs = internalLbSubnets.map((s) => s.cidrBlock);
        }
        this.registerOutputs({ vpcId: this.vpcId, vpcCidr: this.vpcCidr, publicSubnetIds: this.publicSubnetIds, privateSubnetIds: this.privateSubnetIds, internalLoadBalancerSubnetIds: this.internalLoadBalancerSubnetIds });
    }
}
