/** AWS type tokens and the input shapes the AWS policies read (only the fields they use). */

export const AWS = {
    eksCluster: "aws:eks/cluster:Cluster",
    eksNodeGroup: "aws:eks/nodeGroup:NodeGroup",
    launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
    ecrRepository: "aws:ecr/repository:Repository",
    securityGroup: "aws:ec2/securityGroup:SecurityGroup",
    defaultSecurityGroup: "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    securityGroupRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
    ingressRule: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    replicationGroup: "aws:elasticache/replicationGroup:ReplicationGroup",
} as const;

export interface EksCluster {
    encryptionConfig?: { resources?: string[] };
    enabledClusterLogTypes?: string[];
    vpcConfig?: { endpointPublicAccess?: boolean; publicAccessCidrs?: string[] };
}

export interface EksNodeGroup {
    nodeGroupName?: string;
    scalingConfig?: { minSize?: number; desiredSize?: number; maxSize?: number };
    launchTemplate?: { id?: string; name?: string; version?: string };
}

export interface LaunchTemplate {
    id?: string;
    name?: string;
    metadataOptions?: { httpTokens?: string; httpPutResponseHopLimit?: number };
}

export interface EcrRepository {
    imageScanningConfiguration?: { scanOnPush?: boolean };
    imageTagMutability?: string;
}

export interface ReplicationGroup {
    atRestEncryptionEnabled?: boolean;
    transitEncryptionEnabled?: boolean;
    transitEncryptionMode?: string;
    /** A secret: only whether it is set matters here. */
    authToken?: unknown;
    userGroupIds?: string[];
    numCacheClusters?: number;
    automaticFailoverEnabled?: boolean;
    multiAzEnabled?: boolean;
    snapshotRetentionLimit?: number;
    finalSnapshotIdentifier?: string;
}
