import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { AWS } from "../lib/aws";
import { readConfig } from "../lib/policy";

const WORLD = ["0.0.0.0/0", "::/0"];

/** One ingress rule, whatever resource declared it. */
export interface IngressRule {
    /** Where the rule is, for messages: `ingress[0]` or `rule`. */
    where: string;
    protocol: string;
    fromPort: number | undefined;
    toPort: number | undefined;
    cidrs: string[];
}

interface Ec2Rule {
    protocol?: string;
    fromPort?: number;
    toPort?: number;
    cidrBlocks?: string[];
    ipv6CidrBlocks?: string[];
}

/** The ingress rules a resource declares: inline ingress of a SecurityGroup or of the VPC's DefaultSecurityGroup (the same `ingress` blocks), or a standalone rule. */
export function ingressRules(type: string, props: Record<string, unknown>): IngressRule[] {
    const fromEc2 = (r: Ec2Rule, where: string): IngressRule => ({
        where,
        protocol: String(r.protocol ?? "-1"),
        fromPort: r.fromPort,
        toPort: r.toPort,
        cidrs: [...(r.cidrBlocks ?? []), ...(r.ipv6CidrBlocks ?? [])],
    });
    switch (type) {
        case AWS.securityGroup:
        case AWS.defaultSecurityGroup:
            return ((props.ingress ?? []) as Ec2Rule[]).map((r, i) => fromEc2(r, `ingress[${i}]`));
        case AWS.securityGroupRule:
            return props.type === "ingress" ? [fromEc2(props as Ec2Rule, "rule")] : [];
        case AWS.ingressRule: {
            const r = props as { ipProtocol?: string; fromPort?: number; toPort?: number; cidrIpv4?: string; cidrIpv6?: string };
            const cidrs = [r.cidrIpv4, r.cidrIpv6].filter((c): c is string => c !== undefined);
            return [{ where: "rule", protocol: String(r.ipProtocol ?? "-1"), fromPort: r.fromPort, toPort: r.toPort, cidrs }];
        }
        default:
            return [];
    }
}

/** Whether a world-open rule only opens one of the allowed TCP listener ports. */
export function onListenerPort(rule: IngressRule, listenerPorts: number[]): boolean {
    const tcp = rule.protocol === "tcp" || rule.protocol === "6";
    return tcp && rule.fromPort !== undefined && rule.fromPort === rule.toPort && listenerPorts.includes(rule.fromPort);
}

const configSchema: PolicyConfigSchema = {
    properties: {
        listenerPorts: {
            type: "array",
            items: { type: "integer", minimum: 1, maximum: 65535 },
            default: [80, 443],
            description: "TCP ports the load balancers listen on: the only ports a rule may open to 0.0.0.0/0 or ::/0.",
        },
    },
};

/** Nothing is reachable from the whole internet except the load balancers' listener ports. */
export const noWorldIngress: ResourceValidationPolicy = {
    name: "aws-no-world-ingress",
    description: "Security groups and ingress rules do not open ports to 0.0.0.0/0 or ::/0, except the load balancers' listener ports.",
    enforcementLevel: "mandatory",
    severity: "critical",
    configSchema,
    validateResource: (args, report) => {
        const rules = ingressRules(args.type, args.props);
        if (rules.length === 0) return;
        const { listenerPorts } = readConfig<{ listenerPorts: number[] }>(configSchema, args);
        for (const rule of rules) {
            const world = rule.cidrs.filter((c) => WORLD.includes(c));
            if (world.length === 0 || onListenerPort(rule, listenerPorts)) continue;
            const ports = rule.protocol === "-1" ? "all traffic" : `${rule.protocol} ${rule.fromPort ?? "?"}-${rule.toPort ?? "?"}`;
            report(`${args.type.slice(args.type.lastIndexOf(":") + 1)} "${args.name}" ${rule.where} opens ${ports} to ${world.join(" and ")}; restrict the source to known CIDRs or a security group (only TCP ${listenerPorts.join(", ")} may be open to the world).`);
        }
    },
};
