import type { PolicyConfigSchema, PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { AWS, type EksNodeGroup, type LaunchTemplate } from "../lib/aws";
import { readConfig, skipUnknown } from "../lib/policy";

const configSchema: PolicyConfigSchema = {
    properties: {
        maxHopLimit: {
            type: "integer",
            minimum: 1,
            maximum: 64,
            default: 1,
            description: "Highest metadataOptions.httpPutResponseHopLimit allowed: 1 keeps pods, one hop beyond the node, from the node's IMDSv2 tokens and so its role's credentials.",
        },
    },
};

/**
 * The launch template a node group uses. Preferably the one its `launchTemplate` input depends on
 * (known even while the template's id is unknown during preview, and in the offline synth);
 * otherwise the template of the stack whose `name`, or `id` output, the reference names.
 */
export function findLaunchTemplate(nodeGroup: PolicyResource, templates: PolicyResource[]): PolicyResource | undefined {
    const fromInput = (nodeGroup.propertyDependencies.launchTemplate ?? []).filter((d) => d.type === AWS.launchTemplate);
    const fromAny = nodeGroup.dependencies.filter((d) => d.type === AWS.launchTemplate);
    for (const candidates of [fromInput, fromAny]) {
        const unique = [...new Set(candidates)];
        if (unique.length === 1) return unique[0];
    }
    const ref = (nodeGroup.props as EksNodeGroup).launchTemplate ?? {};
    return templates.find((t) => {
        const lt = t.props as LaunchTemplate;
        return (ref.name !== undefined && lt.name === ref.name) || (ref.id !== undefined && lt.id === ref.id);
    });
}

/**
 * Nodes only answer IMDSv2 (session-token) metadata requests, which blocks SSRF-style credential
 * theft, and only to the node itself: every node group uses a launch template of this stack with
 * metadataOptions.httpTokens "required" and an httpPutResponseHopLimit of at most `maxHopLimit`
 * (default 1; a pod's request crosses one more hop than the node's, so with 2 every pod can take
 * the node role's credentials). An unset limit is reported too: it is then the AMI's, 2 for an
 * AMI whose ImdsSupport is v2.0 (EC2 API reference, Image `ImdsSupport`).
 */
export const eksNodeGroupImdsv2: StackValidationPolicy = {
    name: "eks-nodegroup-imdsv2",
    description: "EKS node groups use a launch template that requires IMDSv2 (metadataOptions.httpTokens \"required\") with a hop limit of at most maxHopLimit (default 1).",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema,
    validateStack: (args, report) => {
        const { maxHopLimit } = readConfig<{ maxHopLimit: number }>(configSchema, args);
        const templates = args.resources.filter((r) => r.type === AWS.launchTemplate);
        for (const ng of args.resources.filter((r) => r.type === AWS.eksNodeGroup)) {
            // A template created in the same update has an unknown id during preview: nothing to judge.
            skipUnknown(() => {
                const ref = (ng.props as EksNodeGroup).launchTemplate;
                if (!ref) {
                    report(`EKS node group "${ng.name}" uses no launch template, so nodes accept IMDSv1; give it a launchTemplate whose metadataOptions.httpTokens is "required".`, ng.urn);
                    return;
                }
                const lt = findLaunchTemplate(ng, templates);
                if (!lt) {
                    report(`EKS node group "${ng.name}" uses launch template ${JSON.stringify(ref.name ?? ref.id)}, which is not declared in this stack, so IMDSv2 cannot be verified; declare the launch template in the stack with metadataOptions.httpTokens "required".`, ng.urn);
                    return;
                }
                const { httpTokens: tokens, httpPutResponseHopLimit: hops } = (lt.props as LaunchTemplate).metadataOptions ?? {};
                if (tokens !== "required") {
                    report(`EKS node group "${ng.name}" uses launch template "${lt.name}" with metadataOptions.httpTokens ${JSON.stringify(tokens ?? "optional")}; set httpTokens "required" (IMDSv2 only).`, ng.urn);
                }
                if (hops === undefined || hops > maxHopLimit) {
                    const given = hops === undefined ? "unset (then the AMI's: 2 for an AMI with ImdsSupport v2.0)" : String(hops);
                    report(`EKS node group "${ng.name}" uses launch template "${lt.name}" with metadataOptions.httpPutResponseHopLimit ${given}, so pods may reach the node's metadata and its role's credentials; set it to ${maxHopLimit} (pods get AWS credentials through EKS Pod Identity).`, ng.urn);
                }
            });
        }
    },
};
