import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type ReplicationGroup } from "../lib/aws";
import { PRODUCTION_KNOB, readConfig, validateType } from "../lib/policy";

const configSchema: PolicyConfigSchema = { properties: { production: PRODUCTION_KNOB } };

/**
 * What a production replication group lacks to survive a node or zone loss and a deletion, one
 * phrase each: a replica in another zone that takes over (numCacheClusters >= 2 with
 * automaticFailoverEnabled and multiAzEnabled), daily snapshots (snapshotRetentionLimit >= 1; 0
 * turns them off) and a final snapshot when it is deleted (finalSnapshotIdentifier; without it
 * "no final snapshot will be made", @pulumi/aws 7.48.0 elasticache/replicationGroup.d.ts).
 */
export function productionDataGaps(group: ReplicationGroup): string[] {
    const gaps: string[] = [];
    if ((group.numCacheClusters ?? 1) < 2) gaps.push(`numCacheClusters is ${group.numCacheClusters ?? 1}, so there is no replica`);
    if (group.automaticFailoverEnabled !== true || group.multiAzEnabled !== true) gaps.push("automaticFailoverEnabled and multiAzEnabled are not both true");
    if ((group.snapshotRetentionLimit ?? 0) < 1) gaps.push("snapshotRetentionLimit is 0, so no daily snapshots are kept");
    if (group.finalSnapshotIdentifier === undefined || group.finalSnapshotIdentifier === "") gaps.push("it has no finalSnapshotIdentifier, so deleting it keeps no snapshot");
    return gaps;
}

/** In production the store's data survives a node or zone failure and an accidental deletion. */
export const elastiCacheProductionData: ResourceValidationPolicy = {
    name: "elasticache-production-data",
    description: "In production stacks ElastiCache replication groups fail over to a replica in another zone, keep daily snapshots and take a final snapshot on deletion.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema,
    validateResource: validateType<ReplicationGroup>(AWS.replicationGroup, (props, args, report) => {
        if (!readConfig<{ production: boolean }>(configSchema, args).production) return;
        const gaps = productionDataGaps(props);
        if (gaps.length > 0) {
            report(`ElastiCache replication group "${args.name}" in a production stack: ${gaps.join("; ")}; give it at least 2 nodes with automatic failover and Multi-AZ, snapshots and a final snapshot.`);
        }
    }),
};
