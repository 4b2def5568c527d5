/**
 * The VPC CNI NetworkPolicy model (test/models/vpc-cni-network-policy.ts) against the upstream
 * projects' own test cases, each named as upstream names it:
 * aws/amazon-network-policy-controller-k8s v1.1.7 pkg/resolvers/endpoints_test.go and
 * aws/aws-network-policy-agent v1.4.1 pkg/fwruleprocessor/fw_rule_processor_test.go,
 * controllers/policyendpoints_controller_test.go and test/integration/policy/*.go.
 */
import { describe, expect, it } from "vitest";
import { selects } from "../policy/lib/kubernetes";
import {
    checkAndDeriveL4InfoFromAnyMatchingCIDRs,
    type ClusterState,
    computeIngressEndpoints,
    computeMapEntries,
    deriveIngressFirewallRules,
    type EndpointInfo,
    type FirewallRule,
    ingressVerdict,
    l4Allows,
    longestPrefixMatch,
    mergeDuplicateL4Info,
    type NetworkPolicy,
    type Pod,
    policyEndpoint,
    type PolicyEndpoint,
    sortFirewallRulesByPrefixLength,
} from "./models/vpc-cni-network-policy";

// Sorted by CIDR as upstream sorts (Go string order: bytes).
const byCidr = (list: EndpointInfo[]) => [...list].sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
const keys = (m: Map<string, unknown>) => [...m.keys()].sort();

describe("controller v1.1.7 endpoints_test.go TestEndpointsResolver_Resolve", () => {
    // pod3 has its IP only in the vpc.amazonaws.com/pod-ips annotation: GetPodIP falls back to it.
    const pod = (name: string, ip?: string): Pod => ({ name, namespace: "ns", labels: {}, ...(ip ? { ip } : {}), nodeIP: "10.9.9.9" });
    const state = (pods: Pod[], policy: NetworkPolicy): ClusterState => ({ namespaces: [{ name: "ns", labels: {} }], pods, policies: [policy] });
    const pod1 = pod("pod1", "1.0.0.1");
    const pod2 = pod("pod2", "1.0.0.2");
    const pod3 = pod("pod3", "1.0.0.3");
    const podNoIP = pod("pod-no-ip");
    const denyAll: NetworkPolicy = { metadata: { name: "deny-all", namespace: "ns" }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } };

    it("deny all policy no pods", () => {
        expect(policyEndpoint(denyAll, state([], denyAll))).toMatchObject({ podIPs: [], ingress: [] });
    });

    it("multiple isolated pods", () => {
        expect(policyEndpoint(denyAll, state([pod1, pod3, podNoIP], denyAll)).podIPs).toEqual(["1.0.0.1", "1.0.0.3"]);
    });

    it("ingress rules", () => {
        const ingressPolicy: NetworkPolicy = { metadata: { name: "ingress-policy", namespace: "ns" }, spec: { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] } };
        const pe = policyEndpoint(ingressPolicy, state([pod1, pod2, pod3], ingressPolicy));
        expect(byCidr(pe.ingress)).toEqual([{ cidr: "1.0.0.1" }, { cidr: "1.0.0.2" }, { cidr: "1.0.0.3" }]);
        expect(pe.podIPs).toEqual(["1.0.0.1", "1.0.0.2", "1.0.0.3"]);
    });

    it("resolve network peers, ingress/egress", () => {
        const netpol: NetworkPolicy = {
            metadata: { name: "netpol", namespace: "ns" },
            spec: {
                podSelector: {},
                policyTypes: ["Ingress", "Egress"],
                ingress: [
                    { from: [{ ipBlock: { cidr: "10.20.0.0/16", except: ["10.20.0.5", "10.20.0.6"] } }], ports: [{ protocol: "TCP", port: 80 }] },
                    // The named port resolves on none of the policy's pods: the rule is skipped.
                    { from: [{ ipBlock: { cidr: "20.51.78.0/24", except: ["20.51.78.5"] } }], ports: [{ protocol: "UDP", port: "port-name" }] },
                ],
            },
        };
        const s = state([podNoIP, pod3], netpol);
        expect(computeIngressEndpoints(netpol, s)).toEqual([{ cidr: "10.20.0.0/16", except: ["10.20.0.5", "10.20.0.6"], ports: [{ protocol: "TCP", port: 80 }] }]);
        expect(policyEndpoint(netpol, s).podIPs).toEqual(["1.0.0.3"]);
    });

    it("allow all, ingress/egress to specific ports", () => {
        const netpol: NetworkPolicy = { metadata: { name: "netpol", namespace: "ns" }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{ ports: [{ protocol: "TCP", port: 80 }] }] } };
        expect(byCidr(computeIngressEndpoints(netpol, state([podNoIP], netpol)))).toEqual([
            { cidr: "0.0.0.0/0", ports: [{ protocol: "TCP", port: 80 }] },
            { cidr: "::/0", ports: [{ protocol: "TCP", port: 80 }] },
        ]);
    });

    it("allow all, ingress all pods / egress unable to resolve named ports", () => {
        const netpol: NetworkPolicy = { metadata: { name: "netpol", namespace: "ns" }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [{}] } };
        expect(byCidr(computeIngressEndpoints(netpol, state([podNoIP], netpol)))).toEqual([{ cidr: "0.0.0.0/0" }, { cidr: "::/0" }]);
    });

    it("TestEndpointsResolver_ExcludesTerminalPods", () => {
        const p = (name: string, ip: string, phase: Pod["phase"]): Pod => ({ name, namespace: "test-ns", labels: { app: "test" }, ip, phase, nodeIP: "10.9.9.9" });
        const policy: NetworkPolicy = { metadata: { name: "test-policy", namespace: "test-ns" }, spec: { podSelector: { matchLabels: { app: "test" } } } };
        const s: ClusterState = { namespaces: [{ name: "test-ns", labels: {} }], pods: [p("running-pod", "10.0.0.1", "Running"), p("succeeded-pod", "10.0.0.2", "Succeeded"), p("failed-pod", "10.0.0.3", "Failed")], policies: [policy] };
        expect(policyEndpoint(policy, s).podIPs).toEqual(["10.0.0.1"]);
    });

    it("TestEndpointsResolver_IncludesHostNetworkPodsInIngressEgressRules (as peers), ExcludesHostNetworkPods (as targets)", () => {
        const host: Pod = { name: "host", namespace: "ns", labels: { app: "a" }, ip: "10.0.0.50", hostNetwork: true, nodeIP: "10.0.0.50" };
        const policy: NetworkPolicy = { metadata: { name: "p", namespace: "ns" }, spec: { podSelector: { matchLabels: { app: "a" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "a" } } }] }] } };
        const pe = policyEndpoint(policy, { namespaces: [{ name: "ns", labels: {} }], pods: [host], policies: [policy] });
        expect(pe.ingress).toEqual([{ cidr: "10.0.0.50" }]);
        expect(pe.podIPs).toEqual([]);
    });
});

describe("agent v1.4.1 policyendpoints_controller_test.go TestDeriveIngressAndEgressFirewallRules (ingress half)", () => {
    const pe = (ingress: EndpointInfo[], podIsolation: PolicyEndpoint["podIsolation"]): PolicyEndpoint => ({ policy: "foo", namespace: "bar", podIPs: [], podIsolation, ingress });
    const tcp80 = [{ cidr: "1.1.1.1/32", ports: [{ protocol: "TCP" as const, port: 80 }] }];

    it.each([
        { name: "Ingress and Egress Policy", endpoints: [pe(tcp80, [])], rules: [{ ipCidr: "1.1.1.1/32", l4Info: [{ protocol: "TCP", port: 80 }] }], isolated: false },
        { name: "Ingress Only Policy", endpoints: [pe(tcp80, ["Ingress", "Egress"])], rules: [{ ipCidr: "1.1.1.1/32", l4Info: [{ protocol: "TCP", port: 80 }] }], isolated: false },
        { name: "Egress Only Policy", endpoints: [pe([], ["Ingress", "Egress"])], rules: [], isolated: true },
        { name: "Deny All Ingress", endpoints: [pe([], ["Ingress"])], rules: [], isolated: true },
        { name: "Deny All Egress", endpoints: [pe([], ["Egress"])], rules: [], isolated: false },
    ])("$name", ({ endpoints, rules, isolated }) => {
        expect(deriveIngressFirewallRules(endpoints)).toEqual({ rules, isolated });
    });
});

describe("agent v1.4.1 fw_rule_processor_test.go", () => {
    const nodeIP = "10.1.1.1";

    it("TestFWRuleProcessor_ComputeMapEntriesFromEndpointRules_IPv4: CIDR with Port and Protocol; CatchAll CIDR", () => {
        expect(keys(computeMapEntries([{ ipCidr: "10.1.1.2/32", l4Info: [{ protocol: "TCP", port: 80 }] }], nodeIP))).toEqual(["10.1.1.1/32", "10.1.1.2/32"]);
        expect(keys(computeMapEntries([{ ipCidr: "0.0.0.0/0" }], nodeIP))).toEqual(["0.0.0.0/0", "10.1.1.1/32"]);
    });

    it("TestFWRuleProcessor_ComputeMapEntriesFromEndpointRules_IPv6 (CatchAll CIDR IPv4 ignored, mirrored): an IPv6 rule is ignored in an IPv4 cluster", () => {
        expect(keys(computeMapEntries([{ ipCidr: "::/0" }], nodeIP))).toEqual(["10.1.1.1/32"]);
    });

    it("TestFWRuleProcessor_CheckAndDeriveL4InfoFromAnyMatchingCIDRs: Match Present; No Match", () => {
        const sample = new Map<string, FirewallRule>([["1.1.1.0/24", { ipCidr: "1.1.1.0/24", except: [], l4Info: [{ protocol: "TCP", port: 80 }] }]]);
        expect(checkAndDeriveL4InfoFromAnyMatchingCIDRs("1.1.1.2/32", sample)).toEqual([{ protocol: "TCP", port: 80 }]);
        expect(checkAndDeriveL4InfoFromAnyMatchingCIDRs("2.1.1.2/32", sample)).toEqual([]);
    });

    it("TestFWRuleProcessor_MergeDuplicateL4Info", () => {
        expect(mergeDuplicateL4Info([
            { protocol: "TCP", port: 80, endPort: 8080 },
            { port: 53, endPort: 53 },
            { port: 53, endPort: 53 },
            { protocol: "TCP", port: 80, endPort: 8080 },
            { protocol: "TCP", port: 8081, endPort: 8081 },
        ])).toHaveLength(3);
        expect(mergeDuplicateL4Info([{ protocol: "UDP", port: 53 }, { protocol: "UDP", port: 53 }])).toHaveLength(1);
        expect(mergeDuplicateL4Info([{ protocol: "TCP", endPort: 8080 }, { protocol: "TCP", endPort: 8080 }])).toHaveLength(1);
    });

    it("TestFWRuleProcessor_SortFirewallRulesByPrefixLength (IPv4 cases, with L4 info and except preserved)", () => {
        const cidrs = (rules: FirewallRule[]) => sortFirewallRulesByPrefixLength(rules).map((r) => r.ipCidr);
        expect(cidrs([{ ipCidr: "192.168.1.1/32" }, { ipCidr: "10.0.0.0/8" }, { ipCidr: "172.16.0.0/16" }, { ipCidr: "192.168.0.0/24" }])).toEqual(["10.0.0.0/8", "172.16.0.0/16", "192.168.0.0/24", "192.168.1.1/32"]);
        expect(cidrs([{ ipCidr: "192.168.1.1" }, { ipCidr: "10.0.0.0/8" }, { ipCidr: "172.16.0.0/16" }])).toEqual(["10.0.0.0/8", "172.16.0.0/16", "192.168.1.1"]);
        expect(cidrs([{ ipCidr: "192.168.1.0/24" }, { ipCidr: "0.0.0.0/0" }, { ipCidr: "10.0.0.0/8" }])).toEqual(["0.0.0.0/0", "10.0.0.0/8", "192.168.1.0/24"]);
        const withInfo: FirewallRule[] = [
            { ipCidr: "192.168.1.0/24", except: ["192.168.1.5/32", "192.168.1.10/32"], l4Info: [{ protocol: "TCP", port: 80 }, { protocol: "TCP", port: 443 }] },
            { ipCidr: "10.0.0.0/8", except: ["10.1.0.0/16"], l4Info: [{ protocol: "UDP", port: 8080 }] },
        ];
        expect(sortFirewallRulesByPrefixLength(withInfo)).toEqual([withInfo[1], withInfo[0]]);
    });

    it("TestFirewallRuleProcessor_ShouldSkipRule (IPv4 mode): IPv6 rules and the node IP are skipped, other IPv4 rules kept", () => {
        const entries = computeMapEntries([{ ipCidr: "2001:db8::1/128" }, { ipCidr: "fd16:9254:7127:1337:ffff:ffff:ffff:ffff/128" }, { ipCidr: "192.168.1.0/24" }, { ipCidr: "10.0.0.1/32", l4Info: [{ protocol: "TCP", port: 1 }] }], "10.0.0.1");
        expect(keys(entries)).toEqual(["10.0.0.1/32", "192.168.1.0/24"]);
        // The node's own entry stays allow-all, not the skipped rule's one port.
        expect(l4Allows(entries.get("10.0.0.1/32") ?? [], "TCP", 9999)).toBe(true);
    });
});

describe("agent v1.4.1 test/integration/policy (the same trie builds egress maps, keyed by destination)", () => {
    const serverIP = "10.5.7.9";
    const verdict = (rules: FirewallRule[], ip: string, port: number) => l4Allows(longestPrefixMatch(computeMapEntries(rules, "10.200.0.1"), ip) ?? [{ protocol: "DENY" }], "TCP", port);

    it("except_block_test.go: CIDR and Except overlap: server-prefix allow on 3306 + catch-all except server-prefix", () => {
        // should allow on server prefix and 3306 port, deny on rest server-prefix ports, allow all on rest of endpoints
        const rules: FirewallRule[] = [
            { ipCidr: "10.5.0.0/16", l4Info: [{ protocol: "TCP", port: 3306 }] },
            { ipCidr: "0.0.0.0/0", except: ["10.5.0.0/16"] },
        ];
        expect(verdict(rules, serverIP, 3306)).toBe(true);
        expect(verdict(rules, serverIP, 3307)).toBe(false);
        expect(verdict(rules, "8.8.8.8", 53)).toBe(true);
    });

    it("ebpf_rules_test.go: should allow on portA and deny on portB when policy allows only portA; both when no port is given", () => {
        expect(verdict([{ ipCidr: `${serverIP}/32`, l4Info: [{ protocol: "TCP", port: 8080 }] }], serverIP, 8080)).toBe(true);
        expect(verdict([{ ipCidr: `${serverIP}/32`, l4Info: [{ protocol: "TCP", port: 8080 }] }], serverIP, 9090)).toBe(false);
        expect(verdict([{ ipCidr: `${serverIP}/32` }], serverIP, 9090)).toBe(true);
    });
});

describe("the model end to end", () => {
    const ns = (name: string) => ({ name, labels: { "kubernetes.io/metadata.name": name } });
    const web: Pod = { name: "web", namespace: "a", labels: { app: "web" }, ip: "10.0.1.10", nodeIP: "10.0.1.1" };
    const client: Pod = { name: "client", namespace: "a", labels: { app: "client" }, ip: "10.0.2.20", nodeIP: "10.0.2.1" };
    const elsewhere: Pod = { ...client, name: "client-b", namespace: "b", ip: "10.0.3.30" };
    const policies: NetworkPolicy[] = [
        { metadata: { name: "deny", namespace: "a" }, spec: { podSelector: {}, policyTypes: ["Ingress"] } },
        { metadata: { name: "allow", namespace: "a" }, spec: { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }], ports: [{ port: 8080 }] }] } },
    ];
    const state: ClusterState = { namespaces: [ns("a"), ns("b")], pods: [web, client, elsewhere], policies };

    it("admits a selected peer on the rule's port only, not its namesake in another namespace, and always the local node", () => {
        expect(ingressVerdict(state, web, client.ip!, 8080)).toBe("allow");
        expect(ingressVerdict(state, web, client.ip!, 8081)).toBe("deny");
        expect(ingressVerdict(state, web, client.ip!, 8080, "UDP")).toBe("deny");
        expect(ingressVerdict(state, web, elsewhere.ip!, 8080)).toBe("deny");
        expect(ingressVerdict(state, web, web.nodeIP, 22)).toBe("allow");
        // The default-deny policy alone isolates client: nothing but its node gets in.
        expect(ingressVerdict(state, client, web.ip!, 8080)).toBe("deny");
        // No policy selects pods in namespace b (standard mode: default allow).
        expect(ingressVerdict(state, elsewhere, web.ip!, 1)).toBe("allow");
    });

    it("lets an ipBlock match pod IPs, and an except carve out a deny-all the broader CIDR cannot fill (only the longest prefix counts)", () => {
        const open: NetworkPolicy = { metadata: { name: "vpc", namespace: "a" }, spec: { podSelector: { matchLabels: { app: "web" } }, ingress: [{ from: [{ ipBlock: { cidr: "10.0.0.0/16", except: ["10.0.2.0/24"] } }, { ipBlock: { cidr: "10.0.0.0/8" } }] }] } };
        const s: ClusterState = { ...state, policies: [open] };
        expect(ingressVerdict(s, web, elsewhere.ip!, 8080)).toBe("allow");
        // Kubernetes would union the two blocks and admit 10.0.2.20 through 10.0.0.0/8; the agent does not.
        expect(ingressVerdict(s, web, client.ip!, 8080)).toBe("deny");
    });

    it("matches selectors like apimachinery: matchLabels and expressions ANDed, NotIn true without the label", () => {
        expect(selects({}, {})).toBe(true);
        expect(selects({ matchLabels: { a: "1" }, matchExpressions: [{ key: "b", operator: "Exists" }] }, { a: "1" })).toBe(false);
        expect(selects({ matchExpressions: [{ key: "b", operator: "NotIn", values: ["x"] }] }, {})).toBe(true);
        expect(selects({ matchExpressions: [{ key: "b", operator: "In", values: ["x"] }] }, {})).toBe(false);
        expect(selects({ matchExpressions: [{ key: "b", operator: "DoesNotExist" }] }, { b: "" })).toBe(false);
    });
});
