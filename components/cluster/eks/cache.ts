/**
 * The EKS flavour's managed store: Amazon ElastiCache for Valkey, a replication group (cluster
 * mode off) in the VPC's private subnets. Encrypted in transit (TLS required) and at rest (a KMS
 * key of its own, rotated yearly), an AUTH token, a security group that admits the store's port
 * from the cluster's nodes and pods only, Multi-AZ with automatic failover when it has a replica,
 * daily snapshots kept per the stack config, and a final snapshot in production.
 *
 * Who reaches it: the managed node groups' launch template names no security groups, so EKS puts
 * the cluster security group on every node (awsdocs/amazon-eks-user-guide
 * latest/ug/nodes/launch-templates.adoc), and the VPC CNI gives pods' secondary interfaces the
 * node's primary interface's security groups (latest/ug/networking/eks-networking-add-ons.adoc;
 * aws/amazon-vpc-cni-k8s README: "pods share the same subnet and security groups as the worker
 * node's primary interface"). So the cache's security group admits that group, and inside the
 * cluster each workload's NetworkPolicy decides which pods may use the path (only the store's
 * clients get an egress rule to the private subnets on the store's port).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { STORE_PORT } from "../../store/config";
import { cidrEgress } from "../../store/store";
import type { ManagedStoreArgs, StoreEndpoint } from "../types";

/** Port of the cache: the one every store of the program listens on. */
export const CACHE_PORT = STORE_PORT;

/** Daily snapshot window (UTC); the maintenance window follows it without overlap. */
export const SNAPSHOT_WINDOW = "02:00-03:00";
/** Weekly maintenance window (UTC), after the snapshot window. */
export const MAINTENANCE_WINDOW = "sun:04:00-sun:05:00";

/**
 * Replication-group inputs whose change makes a new replication group (`ForceNew` in
 * hashicorp/terraform-provider-aws internal/service/elasticache/replication_group.go, the v6 line
 * that @pulumi/aws 7 bridges: at_rest_encryption_enabled, kms_key_id, port, subnet_group_name;
 * engine and engine_version on a downgrade, customizeDiffEngineForceNewOnDowngrade and
 * customizeDiffEngineVersionForceNewOnDowngrade), of those this component sets. A new replication
 * group needs a final snapshot name of its own: AWS keeps a final snapshot after the group is
 * gone, and deleting a group whose final snapshot name is taken fails. Listing an input that
 * changes in place only renames a snapshot not yet taken (an in-place, state-only change).
 */
export const REPLACING_INPUTS = ["atRestEncryptionEnabled", "kmsKeyId", "port", "subnetGroupName", "engine", "engineVersion"] as const;

export interface ElastiCacheStoreArgs extends ManagedStoreArgs {
    /** VPC of the cluster. */
    vpcId: pulumi.Input<string>;
    /** Private subnets, one per zone: the cache's nodes live there. */
    subnetIds: pulumi.Input<string>[];
    /** Their IPv4 CIDRs: the clients' NetworkPolicy egress admits the store's port there. */
    subnetCidrs: pulumi.Input<string>[];
    /** Security group of the cluster's nodes (and so of its pods): the only source admitted. */
    clientSecurityGroupId: pulumi.Input<string>;
    /** Production: the key and the replication group are protected, and a final snapshot is taken on deletion. */
    production: boolean;
    /** Prefix of the final snapshot's name, which AWS keeps per account and region (the cluster's name, so stacks sharing an account keep theirs apart). */
    snapshotPrefix: string;
    /** AWS provider (region, default tags). */
    provider: aws.Provider;
}

/** An ElastiCache for Valkey replication group implementing the cluster's managed store. */
export class ElastiCacheStore extends pulumi.ComponentResource implements StoreEndpoint {
    readonly url: pulumi.Output<string>;
    readonly egress: StoreEndpoint["egress"];
    /** The replication group. */
    readonly replicationGroup: aws.elasticache.ReplicationGroup;

    constructor(name: string, args: ElastiCacheStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:cluster:ElastiCacheStore", name, {}, opts);
        if (args.nodes < 1) throw new Error(`${name}: an ElastiCache store needs at least one node`);
        const childOpts = { parent: this, provider: args.provider };
        const tags = { component: "store", Name: name };
        const failover = args.nodes > 1;

        const key = new aws.kms.Key(
            `${name}-key`,
            { description: `At-rest encryption of ElastiCache store ${name}`, enableKeyRotation: true, deletionWindowInDays: 30, tags },
            { ...childOpts, protect: args.production },
        );
        const subnets = new aws.elasticache.SubnetGroup(`${name}-subnets`, { description: `Private subnets of ${name}`, subnetIds: args.subnetIds, tags }, childOpts);
        // No egress rules: the cache opens no connection of its own.
        const securityGroup = new aws.ec2.SecurityGroup(
            `${name}-sg`,
            { vpcId: args.vpcId, description: `ElastiCache store ${name}: TCP ${CACHE_PORT} from the cluster's nodes and pods only`, tags },
            childOpts,
        );
        new aws.vpc.SecurityGroupIngressRule(
            `${name}-from-cluster`,
            {
                securityGroupId: securityGroup.id,
                referencedSecurityGroupId: args.clientSecurityGroupId,
                ipProtocol: "tcp",
                fromPort: CACHE_PORT,
                toPort: CACHE_PORT,
                description: "Valkey from the cluster's nodes and pods",
                tags,
            },
            childOpts,
        );

        const replacing = {
            engine: "valkey",
            engineVersion: args.engineVersion,
            port: CACHE_PORT,
            subnetGroupName: subnets.name,
            atRestEncryptionEnabled: true,
            kmsKeyId: key.arn,
        } satisfies Record<(typeof REPLACING_INPUTS)[number], pulumi.Input<string | number | boolean>>;
        // The final snapshot's name: the cluster's, and a suffix drawn anew for each replication
        // group this component makes (a replacement, or a stack destroyed and brought up again),
        // so a fixed name never collides with the snapshot an earlier group left behind.
        const finalSnapshot = args.production
            ? new random.RandomId(`${name}-final-snapshot`, { byteLength: 4, keepers: Object.fromEntries(Object.entries(replacing).map(([k, v]) => [k, pulumi.output(v).apply(String)])) }, { parent: this })
            : undefined;

        this.replicationGroup = new aws.elasticache.ReplicationGroup(
            name,
            {
                description: `Store of the kubeforge services (${name})`,
                ...replacing,
                nodeType: args.nodeType,
                numCacheClusters: args.nodes,
                // With a replica: it lives in another zone and takes over when the primary fails.
                automaticFailoverEnabled: failover,
                multiAzEnabled: failover,
                securityGroupIds: [securityGroup.id],
                transitEncryptionEnabled: true,
                transitEncryptionMode: "required",
                authToken: pulumi.secret(args.password),
                snapshotRetentionLimit: args.snapshotRetentionDays,
                snapshotWindow: SNAPSHOT_WINDOW,
                maintenanceWindow: MAINTENANCE_WINDOW,
                autoMinorVersionUpgrade: true,
                // Production changes wait for the maintenance window; elsewhere they apply at once.
                applyImmediately: !args.production,
                finalSnapshotIdentifier: finalSnapshot && pulumi.interpolate`${args.snapshotPrefix}-store-final-${finalSnapshot.hex}`,
                tags,
            },
            { ...childOpts, protect: args.production },
        );

        this.url = pulumi.interpolate`rediss://${this.replicationGroup.primaryEndpointAddress}:${CACHE_PORT}`;
        this.egress = cidrEgress(args.subnetCidrs, CACHE_PORT);
        this.registerOutputs({ url: this.url });
    }
}
