import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { AWS, type EksNodeGroup, type LaunchTemplate } from "../lib/aws";
import { skipUnknown } from "../lib/policy";

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
 * theft: every node group uses a launch template of this stack with metadataOptions.httpTokens
 * "required".
 */
export const eksNodeGroupImdsv2: StackValidationPolicy = {
    name: "eks-nodegroup-imdsv2",
    description: "EKS node groups use a launch template that requires IMDSv2 (metadataOptions.httpTokens \"required\").",
    enforcementLevel: "mandatory",
    severity: "high",
    validateStack: (args, report) => {
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
                const tokens = (lt.props as LaunchTemplate).metadataOptions?.httpTokens;
                if (tokens !== "required") {
                    report(`EKS node group "${ng.name}" uses launch template "${lt.name}" with metadataOptions.httpTokens ${JSON.stringify(tokens ?? "optional")}; set httpTokens "required" (IMDSv2 only).`, ng.urn);
                }
            });
        }
    },
};
