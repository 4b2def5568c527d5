import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AWS, type ReplicationGroup } from "../lib/aws";
import { validateType } from "../lib/policy";

/**
 * What an ElastiCache replication group lacks of encryption and authentication, one phrase each:
 * at rest, in transit with `transitEncryptionMode` "required" (AWS's "preferred" still accepts
 * plain-text clients), and an AUTH token or RBAC user group (an AUTH token needs in-transit
 * encryption: @pulumi/aws 7.48.0 elasticache/replicationGroup.d.ts `authToken`).
 */
export function encryptionGaps(group: ReplicationGroup): string[] {
    const gaps: string[] = [];
    if (group.atRestEncryptionEnabled !== true) gaps.push("atRestEncryptionEnabled is not true");
    if (group.transitEncryptionEnabled !== true) gaps.push("transitEncryptionEnabled is not true");
    else if (group.transitEncryptionMode !== "required") gaps.push(`transitEncryptionMode is ${JSON.stringify(group.transitEncryptionMode ?? "unset")}, not "required"`);
    const authenticated = (group.authToken !== undefined && group.authToken !== null && group.authToken !== "") || (group.userGroupIds ?? []).length > 0;
    if (!authenticated) gaps.push("it has neither an authToken nor userGroupIds");
    return gaps;
}

/** A store's data is encrypted on disk and on the wire, and only authenticated clients reach it. */
export const elastiCacheEncryption: ResourceValidationPolicy = {
    name: "elasticache-encryption",
    description: "ElastiCache replication groups encrypt at rest and in transit (transitEncryptionMode \"required\") and authenticate clients (authToken or userGroupIds).",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: validateType<ReplicationGroup>(AWS.replicationGroup, (props, args, report) => {
        const gaps = encryptionGaps(props);
        if (gaps.length > 0) {
            report(`ElastiCache replication group "${args.name}": ${gaps.join("; ")}; encrypt it at rest and in transit (mode "required") and give it an authToken.`);
        }
    }),
};
