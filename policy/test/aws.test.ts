import { unknownCheckingProxy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import type { EcrRepository, EksCluster, EksNodeGroup, LaunchTemplate, ReplicationGroup } from "../lib/aws";
import { toPolicyResources, runPolicies, type SynthResource } from "../runner";
import { ecrImmutableTags } from "../policies/ecr-immutable-tags";
import { ecrScanOnPush } from "../policies/ecr-scan-on-push";
import { eksAuditLogging } from "../policies/eks-audit-logging";
import { eksEndpointAccess } from "../policies/eks-endpoint-access";
import { eksNodeGroupImdsv2 } from "../policies/eks-nodegroup-imdsv2";
import { eksNodeGroupScaling } from "../policies/eks-nodegroup-scaling";
import { eksSecretsEncryption } from "../policies/eks-secrets-encryption";
import { elastiCacheEncryption } from "../policies/elasticache-encryption";
import { elastiCacheProductionData } from "../policies/elasticache-production-data";
import { noWorldIngress } from "../policies/no-world-ingress";
import { fixture, messages } from "./util";

const CLUSTER = "kubeforge-prod-cluster";
/** The policy SDK's sentinel for a string that is unknown during preview. */
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const NODES = "kubeforge-prod-nodes";

function edited<T>(name: string, edit: (inputs: T) => void, type?: string): SynthResource[] {
    const resources = fixture("compliant");
    const r = resources.find((x) => x.name === name && (type === undefined || x.type === type));
    if (!r) throw new Error(`no ${name}`);
    edit(r.inputs as T);
    return resources;
}

const editCluster = (edit: (c: EksCluster) => void) => edited<EksCluster>(CLUSTER, edit);
const editNodeGroup = (edit: (n: EksNodeGroup) => void) => edited<EksNodeGroup>(NODES, edit, "aws:eks/nodeGroup:NodeGroup");
const editTemplate = (edit: (t: LaunchTemplate) => void) => edited<LaunchTemplate>(NODES, edit, "aws:ec2/launchTemplate:LaunchTemplate");

describe("eks-secrets-encryption", () => {
    it("accepts KMS encryption of secrets", async () => {
        expect(await messages(eksSecretsEncryption, fixture("compliant"))).toEqual([]);
    });

    it("reports a cluster without it, or encrypting something else", async () => {
        const expected = [`EKS cluster "${CLUSTER}" does not encrypt Secrets with KMS; set encryptionConfig {provider: {keyArn: <KMS key ARN>}, resources: ["secrets"]}.`];
        expect(await messages(eksSecretsEncryption, editCluster((c) => delete c.encryptionConfig))).toEqual(expected);
        expect(await messages(eksSecretsEncryption, editCluster((c) => (c.encryptionConfig = { resources: [] })))).toEqual(expected);
    });
});

describe("eks-audit-logging", () => {
    it("accepts audit logging", async () => {
        expect(await messages(eksAuditLogging, fixture("compliant"))).toEqual([]);
    });

    it("reports a cluster that logs other types only, or none", async () => {
        const expected = [`EKS cluster "${CLUSTER}" does not log audit events; add "audit" to enabledClusterLogTypes (with "api" and "authenticator").`];
        expect(await messages(eksAuditLogging, editCluster((c) => (c.enabledClusterLogTypes = ["api"])))).toEqual(expected);
        expect(await messages(eksAuditLogging, editCluster((c) => delete c.enabledClusterLogTypes))).toEqual(expected);
    });
});

describe("eks-endpoint-access", () => {
    const PROD = { production: true };

    it("accepts a restricted or private endpoint in production", async () => {
        expect(await messages(eksEndpointAccess, fixture("compliant"), PROD)).toEqual([]);
        expect(await messages(eksEndpointAccess, editCluster((c) => (c.vpcConfig = { endpointPublicAccess: false })), PROD)).toEqual([]);
    });

    it("reports an endpoint open to the world, explicitly or by AWS's default", async () => {
        const explicit = await messages(eksEndpointAccess, editCluster((c) => (c.vpcConfig!.publicAccessCidrs = ["0.0.0.0/0"])), PROD);
        expect(explicit).toEqual([`EKS cluster "${CLUSTER}" exposes its public API endpoint to the internet (publicAccessCidrs ["0.0.0.0/0"]) in a production stack; set vpcConfig.endpointPublicAccess false or publicAccessCidrs to your office/VPN CIDRs.`]);
        const byDefault = await messages(eksEndpointAccess, editCluster((c) => (c.vpcConfig = {})), PROD);
        expect(byDefault[0]).toContain("no publicAccessCidrs (AWS then allows 0.0.0.0/0)");
    });

    it("leaves non-production stacks alone", async () => {
        expect(await messages(eksEndpointAccess, editCluster((c) => (c.vpcConfig = {})))).toEqual([]);
    });
});

describe("eks-nodegroup-scaling", () => {
    it("accepts min <= desired <= max", async () => {
        expect(await messages(eksNodeGroupScaling, fixture("compliant"))).toEqual([]);
    });

    it.each([
        [{ minSize: 3, desiredSize: 2, maxSize: 6 }],
        [{ minSize: 2, desiredSize: 7, maxSize: 6 }],
    ])("reports %j", async (scalingConfig) => {
        expect(await messages(eksNodeGroupScaling, editNodeGroup((n) => (n.scalingConfig = scalingConfig)))).toEqual([
            `EKS node group "${NODES}" has scalingConfig minSize ${scalingConfig.minSize}, desiredSize ${scalingConfig.desiredSize}, maxSize ${scalingConfig.maxSize}; make minSize <= desiredSize <= maxSize.`,
        ]);
    });
});

describe("eks-nodegroup-imdsv2", () => {
    it("accepts a node group whose launch template (by name or by id) requires IMDSv2", async () => {
        expect(await messages(eksNodeGroupImdsv2, fixture("compliant"))).toEqual([]);
        const byId = editTemplate((t) => (t.id = "lt-0abc"));
        (byId.find((r) => r.type === "aws:eks/nodeGroup:NodeGroup")!.inputs as EksNodeGroup).launchTemplate = { id: "lt-0abc", version: "1" };
        expect(await messages(eksNodeGroupImdsv2, byId)).toEqual([]);
    });

    it("reports a template that allows IMDSv1", async () => {
        expect(await messages(eksNodeGroupImdsv2, editTemplate((t) => (t.metadataOptions = { httpTokens: "optional", httpPutResponseHopLimit: 1 })))).toEqual([
            `EKS node group "${NODES}" uses launch template "${NODES}" with metadataOptions.httpTokens "optional"; set httpTokens "required" (IMDSv2 only).`,
        ]);
    });

    // A pod's metadata request crosses one hop more than the node's own: with a hop limit of 2
    // every pod can get the node's IMDSv2 token (EC2 user guide, "Configure the instance metadata
    // options": the hop limit is the PUT response's IP TTL).
    it("reports a hop limit that lets pods reach the node's metadata, unless the stack allows it", async () => {
        const twoHops = editTemplate((t) => (t.metadataOptions = { httpTokens: "required", httpPutResponseHopLimit: 2 }));
        expect(await messages(eksNodeGroupImdsv2, twoHops)).toEqual([
            `EKS node group "${NODES}" uses launch template "${NODES}" with metadataOptions.httpPutResponseHopLimit 2, so pods may reach the node's metadata and its role's credentials; set it to 1 (pods get AWS credentials through EKS Pod Identity).`,
        ]);
        expect(await messages(eksNodeGroupImdsv2, twoHops, { maxHopLimit: 2 })).toEqual([]);
        const unset = editTemplate((t) => (t.metadataOptions = { httpTokens: "required" }));
        expect((await messages(eksNodeGroupImdsv2, unset))[0]).toContain("httpPutResponseHopLimit unset (then the AMI's: 2 for an AMI with ImdsSupport v2.0)");
    });

    it("reports a node group without launch template, or with one it cannot find", async () => {
        const none = await messages(eksNodeGroupImdsv2, editNodeGroup((n) => delete n.launchTemplate));
        expect(none).toEqual([`EKS node group "${NODES}" uses no launch template, so nodes accept IMDSv1; give it a launchTemplate whose metadataOptions.httpTokens is "required".`]);
        const missing = await messages(eksNodeGroupImdsv2, editNodeGroup((n) => (n.launchTemplate = { id: "lt-elsewhere" })));
        expect(missing[0]).toContain('uses launch template "lt-elsewhere", which is not declared in this stack, so IMDSv2 cannot be verified');
    });

    it("follows the node group's dependency on its template when the id is a mock id", async () => {
        const resources = editNodeGroup((n) => (n.launchTemplate = { id: `${NODES}-id`, version: "1" }));
        const ng = resources.find((r) => r.type === "aws:eks/nodeGroup:NodeGroup")!;
        expect(await messages(eksNodeGroupImdsv2, resources)).toHaveLength(1);
        ng.options = { dependencies: ["urn:pulumi:test::kubeforge::kubeforge:cluster:EksCluster$aws:ec2/launchTemplate:LaunchTemplate::kubeforge-prod-nodes"] };
        expect(await messages(eksNodeGroupImdsv2, resources)).toEqual([]);
        (resources.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate")!.inputs as LaunchTemplate).metadataOptions = { httpPutResponseHopLimit: 1 };
        expect(await messages(eksNodeGroupImdsv2, resources)).toEqual([
            `EKS node group "${NODES}" uses launch template "${NODES}" with metadataOptions.httpTokens "optional"; set httpTokens "required" (IMDSv2 only).`,
        ]);
    });

    it("judges each of several node groups (one per zone) sharing one template, as the EKS flavour declares them", async () => {
        const resources = fixture("compliant");
        const ng = resources.find((r) => r.type === "aws:eks/nodeGroup:NodeGroup")!;
        const zonal = [0, 1, 2].map((zone) => ({
            ...structuredClone(ng),
            name: `${NODES}-${zone}`,
            inputs: { ...structuredClone(ng.inputs), subnetIds: [`subnet-${zone}`], launchTemplate: { id: `${NODES}-id`, version: "1" } },
            options: { dependencies: ["urn:pulumi:test::kubeforge::kubeforge:cluster:EksCluster$aws:ec2/launchTemplate:LaunchTemplate::kubeforge-prod-nodes"] },
        }));
        resources.splice(resources.indexOf(ng), 1, ...zonal);
        expect(await messages(eksNodeGroupImdsv2, resources)).toEqual([]);
        (resources.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate")!.inputs as LaunchTemplate).metadataOptions = { httpTokens: "optional", httpPutResponseHopLimit: 1 };
        expect(await messages(eksNodeGroupImdsv2, resources)).toEqual(
            zonal.map((g) => `EKS node group "${g.name}" uses launch template "${NODES}" with metadataOptions.httpTokens "optional"; set httpTokens "required" (IMDSv2 only).`),
        );
    });

    describe("during preview, with the template's id unknown", () => {
        function preview(httpTokens: string, withPropertyDependency: boolean) {
            const resources = toPolicyResources(editTemplate((t) => (t.metadataOptions = { httpTokens, httpPutResponseHopLimit: 1 })), "test");
            const ng = resources.find((r) => r.type === "aws:eks/nodeGroup:NodeGroup")!;
            const lt = resources.find((r) => r.type === "aws:ec2/launchTemplate:LaunchTemplate")!;
            ng.props = unknownCheckingProxy({ ...ng.props, launchTemplate: { id: UNKNOWN_STRING, version: UNKNOWN_STRING } });
            if (withPropertyDependency) ng.propertyDependencies = { launchTemplate: [lt] };
            return runPolicies([eksNodeGroupImdsv2], resources, {});
        }

        it("still judges the template the launchTemplate input depends on", async () => {
            expect(await preview("required", true)).toEqual([]);
            expect((await preview("optional", true)).map((v) => v.message)).toEqual([
                `EKS node group "${NODES}" uses launch template "${NODES}" with metadataOptions.httpTokens "optional"; set httpTokens "required" (IMDSv2 only).`,
            ]);
        });

        it("reports nothing when it cannot tell which template is meant", async () => {
            expect(await preview("optional", false)).toEqual([]);
        });
    });
});

describe("ecr-scan-on-push and ecr-immutable-tags", () => {
    const REPO = "kubeforge-prod-backend";
    const editRepo = (edit: (r: EcrRepository) => void) => edited<EcrRepository>(REPO, edit);

    it("accept a scanning, immutable repository", async () => {
        expect(await messages(ecrScanOnPush, fixture("compliant"))).toEqual([]);
        expect(await messages(ecrImmutableTags, fixture("compliant"))).toEqual([]);
    });

    it("report AWS's defaults: no scanning, mutable tags", async () => {
        const defaults = editRepo((r) => {
            delete r.imageScanningConfiguration;
            delete r.imageTagMutability;
        });
        expect(await messages(ecrScanOnPush, defaults)).toEqual([`ECR repository "${REPO}" does not scan images on push; set imageScanningConfiguration {scanOnPush: true}.`]);
        expect(await messages(ecrImmutableTags, defaults)).toEqual([`ECR repository "${REPO}" has imageTagMutability MUTABLE; set it to IMMUTABLE.`]);
    });
});

describe("aws-no-world-ingress", () => {
    const LB = "kubeforge-prod-lb";

    it("accepts the listener ports open to the world and private CIDRs on others", async () => {
        expect(await messages(noWorldIngress, fixture("compliant"))).toEqual([]);
    });

    it("reports SSH open to the world on a security group, and all traffic over IPv6", async () => {
        const resources = edited<{ ingress: object[] }>(LB, (sg) => {
            sg.ingress.push({ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] });
            sg.ingress.push({ protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] });
        });
        expect(await messages(noWorldIngress, resources)).toEqual([
            `SecurityGroup "${LB}" ingress[3] opens tcp 22-22 to 0.0.0.0/0; restrict the source to known CIDRs or a security group (only TCP 80, 443 may be open to the world).`,
            `SecurityGroup "${LB}" ingress[4] opens all traffic to ::/0; restrict the source to known CIDRs or a security group (only TCP 80, 443 may be open to the world).`,
        ]);
    });

    it("reports standalone rules of both kinds, and ranges that merely include a listener port", async () => {
        const resources = fixture("compliant");
        resources.push(
            { type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name: "admin", parent: null, inputs: { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 8443, toPort: 8443, cidrIpv4: "0.0.0.0/0" } },
            { type: "aws:ec2/securityGroupRule:SecurityGroupRule", name: "range", parent: null, inputs: { type: "ingress", securityGroupId: "sg-1", protocol: "tcp", fromPort: 80, toPort: 1024, cidrBlocks: ["0.0.0.0/0"] } },
            { type: "aws:ec2/securityGroupRule:SecurityGroupRule", name: "egress", parent: null, inputs: { type: "egress", securityGroupId: "sg-1", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] } },
        );
        const found = await messages(noWorldIngress, resources);
        expect(found.map((m) => m.split(";")[0])).toEqual([
            'SecurityGroupIngressRule "admin" rule opens tcp 8443-8443 to 0.0.0.0/0',
            'SecurityGroupRule "range" rule opens tcp 80-1024 to 0.0.0.0/0',
        ]);
        expect(await messages(noWorldIngress, resources, { listenerPorts: [80, 443, 8443] })).toHaveLength(1);
    });

    // The program adopts the VPC's default security group with no rules (components/cluster/eks/network.ts);
    // @pulumi/aws 7.48.0 ec2/defaultSecurityGroup.d.ts takes the same inline `ingress` blocks as a SecurityGroup.
    it("reads the VPC's default security group too: closed passes, world-open fails", async () => {
        const closed = { type: "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", name: "default-sg", parent: null, inputs: { vpcId: "vpc-1" } };
        expect(await messages(noWorldIngress, [...fixture("compliant"), closed])).toEqual([]);
        const open = { ...closed, inputs: { vpcId: "vpc-1", ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] } };
        expect(await messages(noWorldIngress, [...fixture("compliant"), open])).toEqual([
            'DefaultSecurityGroup "default-sg" ingress[0] opens all traffic to 0.0.0.0/0; restrict the source to known CIDRs or a security group (only TCP 80, 443 may be open to the world).',
        ]);
    });
});

const STORE = "store-elasticache";
const editStore = (edit: (g: ReplicationGroup) => void) => edited<ReplicationGroup>(STORE, edit, "aws:elasticache/replicationGroup:ReplicationGroup");

describe("elasticache-encryption", () => {
    it("accepts a group encrypted at rest and in transit (required) with an AUTH token, or an RBAC user group", async () => {
        expect(await messages(elastiCacheEncryption, fixture("compliant"))).toEqual([]);
        expect(await messages(elastiCacheEncryption, editStore((g) => { delete g.authToken; g.userGroupIds = ["store-users"]; }))).toEqual([]);
    });

    it("reports each gap: no at-rest encryption, plain-text clients still accepted, no authentication", async () => {
        const fix = "; encrypt it at rest and in transit (mode \"required\") and give it an authToken.";
        expect(await messages(elastiCacheEncryption, editStore((g) => delete g.atRestEncryptionEnabled))).toEqual([`ElastiCache replication group "${STORE}": atRestEncryptionEnabled is not true${fix}`]);
        expect(await messages(elastiCacheEncryption, editStore((g) => (g.transitEncryptionMode = "preferred")))).toEqual([`ElastiCache replication group "${STORE}": transitEncryptionMode is "preferred", not "required"${fix}`]);
        // An AUTH token needs in-transit encryption, so without it the token is gone as well.
        expect(await messages(elastiCacheEncryption, editStore((g) => { g.transitEncryptionEnabled = false; delete g.authToken; }))).toEqual([
            `ElastiCache replication group "${STORE}": transitEncryptionEnabled is not true; it has neither an authToken nor userGroupIds${fix}`,
        ]);
    });
});

describe("elasticache-production-data", () => {
    const PROD = { production: true };

    it("accepts a Multi-AZ group with failover, daily snapshots and a final snapshot in production", async () => {
        expect(await messages(elastiCacheProductionData, fixture("compliant"), PROD)).toEqual([]);
    });

    it("reports a single node, snapshots off and no final snapshot in production", async () => {
        const single = editStore((g) => { g.numCacheClusters = 1; g.automaticFailoverEnabled = false; g.multiAzEnabled = false; g.snapshotRetentionLimit = 0; delete g.finalSnapshotIdentifier; });
        expect(await messages(elastiCacheProductionData, single, PROD)).toEqual([
            `ElastiCache replication group "${STORE}" in a production stack: numCacheClusters is 1, so there is no replica; automaticFailoverEnabled and multiAzEnabled are not both true; `
            + "snapshotRetentionLimit is 0, so no daily snapshots are kept; it has no finalSnapshotIdentifier, so deleting it keeps no snapshot; "
            + "give it at least 2 nodes with automatic failover and Multi-AZ, snapshots and a final snapshot.",
        ]);
        expect((await messages(elastiCacheProductionData, editStore((g) => (g.multiAzEnabled = false)), PROD))[0]).toContain("automaticFailoverEnabled and multiAzEnabled are not both true");
    });

    it("leaves non-production stacks alone", async () => {
        expect(await messages(elastiCacheProductionData, editStore((g) => (g.numCacheClusters = 1)))).toEqual([]);
    });
});
