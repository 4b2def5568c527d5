/**
 * A small, pure model of how the Amazon VPC CNI enforces NetworkPolicy ingress on EKS, so tests
 * can ask of kubeforge's generated policies "may this source reach this pod on this port?" and
 * get the answer the real data path would give. Two upstream parts, modelled function by function
 * (each function names the file it follows):
 *
 * 1. The network policy controller (runs in the EKS control plane) resolves each NetworkPolicy
 *    into a PolicyEndpoint: the pods it applies to and, per ingress rule, CIDRs with ports: pod
 *    IPs for pod/namespace selectors, the ipBlock as written (not minus pod IPs),
 *    0.0.0.0/0 for a rule without `from`. aws/amazon-network-policy-controller-k8s v1.1.7
 *    (newest tag; EKS runs it at an unpublished version).
 * 2. The node agent turns every PolicyEndpoint that selects a pod into one LPM trie keyed by
 *    source CIDR, and its eBPF program looks a packet's source up there: only the longest
 *    matching prefix counts. aws/aws-network-policy-agent v1.4.1 (the agent the VPC CNI chart
 *    v1.23.0 ships).
 *
 * Scope: IPv4, namespaced NetworkPolicy, the agent's default `standard` enforcing mode, new
 * flows (no conntrack state), no cluster-wide (admin/baseline) policies. Egress is not modelled.
 */
// Label selectors match as k8s.io/apimachinery's LabelSelectorAsSelector and Requirement.Matches do
// (matchLabels and expressions ANDed, NotIn true without the label); the policy pack's helper does that.
import { type LabelSelector, selects } from "../../policy/lib/kubernetes";

export type Protocol = "TCP" | "UDP" | "SCTP";

/** A NetworkPolicy peer. */
export interface NetworkPolicyPeer {
    podSelector?: LabelSelector;
    namespaceSelector?: LabelSelector;
    ipBlock?: { cidr: string; except?: string[] };
}

/** A NetworkPolicy port: a number or a named container port; the API server defaults protocol to TCP. */
export interface NetworkPolicyPort {
    protocol?: Protocol;
    port?: number | string;
    endPort?: number;
}

/** The parts of a NetworkPolicy the data path uses. */
export interface NetworkPolicy {
    metadata: { name: string; namespace: string };
    spec: {
        podSelector: LabelSelector;
        policyTypes?: ("Ingress" | "Egress")[];
        ingress?: { from?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
    };
}

/** A pod as the controller sees it. */
export interface Pod {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    /** status.podIP (or the `vpc.amazonaws.com/pod-ips` annotation); absent before the CNI assigns one. */
    ip?: string;
    /** Primary IP of the node it runs on (the agent always admits it). */
    nodeIP: string;
    hostNetwork?: boolean;
    phase?: "Pending" | "Running" | "Succeeded" | "Failed";
    containerPorts?: { name?: string; containerPort: number; protocol?: Protocol }[];
}

/** What the model needs of a cluster: its namespaces (with labels), pods and NetworkPolicies. */
export interface ClusterState {
    namespaces: { name: string; labels: Record<string, string> }[];
    pods: Pod[];
    policies: NetworkPolicy[];
}

/** A PolicyEndpoint port (api/v1alpha1 Port). Protocol `ANY`/`DENY` stand for the agent's CATCH_ALL and DENY_ALL pseudo-protocols. */
export interface EndpointPort {
    protocol?: Protocol | "ANY" | "DENY";
    port?: number;
    endPort?: number;
}

/** A PolicyEndpoint ingress entry (api/v1alpha1 EndpointInfo): a CIDR (a bare IP for pods), its exceptions and ports (none: all). */
export interface EndpointInfo {
    cidr: string;
    except?: string[];
    ports?: EndpointPort[];
}

/** The ingress half of a PolicyEndpoint. */
export interface PolicyEndpoint {
    policy: string;
    namespace: string;
    /** podSelectorEndpoints: IPs of the pods the policy applies to. */
    podIPs: string[];
    /** spec.podIsolation (the policy's policyTypes). */
    podIsolation: ("Ingress" | "Egress")[];
    ingress: EndpointInfo[];
}

// ------------------------------------------------------------------------------------------------
// IPv4 arithmetic
// ------------------------------------------------------------------------------------------------

interface Prefix {
    address: number;
    length: number;
}

function ipv4(text: string): number | undefined {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
    if (!m) return undefined;
    const octets = m.slice(1).map(Number);
    return octets.some((o) => o > 255) ? undefined : octets.reduce((a, o) => a * 256 + o, 0);
}

/** net.ParseCIDR: the network (host bits cleared) of `a.b.c.d/n`; undefined for IPv6 or garbage. */
function parseCidr(text: string): Prefix | undefined {
    const [ip, len] = text.split("/");
    const address = ipv4(ip ?? "");
    const length = Number(len);
    if (address === undefined || len === undefined || !Number.isInteger(length) || length < 0 || length > 32) return undefined;
    const size = 2 ** (32 - length);
    return { address: Math.floor(address / size) * size, length };
}

function contains(p: Prefix, address: number): boolean {
    const size = 2 ** (32 - p.length);
    return Math.floor(address / size) * size === p.address;
}

function isIPv6(text: string): boolean {
    return text.includes(":");
}

// ------------------------------------------------------------------------------------------------
// 1. Controller: NetworkPolicy -> PolicyEndpoint (amazon-network-policy-controller-k8s v1.1.7)
// ------------------------------------------------------------------------------------------------

/** pkg/k8s/pod_utils.go IsPodNetworkReady: an IP, and not Succeeded or Failed. */
function networkReady(pod: Pod): boolean {
    return (pod.ip ?? "") !== "" && pod.phase !== "Succeeded" && pod.phase !== "Failed";
}

/** pkg/k8s/pod_utils.go LookupContainerPortAndName: a name must match a container port of the protocol; a number is taken as is. */
function lookupContainerPort(pod: Pod, port: number | string, protocol: Protocol): number | undefined {
    for (const cp of pod.containerPorts ?? []) {
        if ((cp.protocol ?? "TCP") !== protocol) continue;
        if (typeof port === "string" ? cp.name === port : cp.containerPort === port) return cp.containerPort;
    }
    return typeof port === "number" ? port : undefined;
}

/** pkg/resolvers/endpoints.go dedupPorts / manager.go deduplicatePorts: one entry per protocol, port, endPort. */
function dedupPorts(ports: EndpointPort[]): EndpointPort[] {
    const seen = new Map<string, EndpointPort>();
    for (const p of ports) seen.set(`${p.protocol ?? ""}@${p.port ?? ""}@${p.endPort ?? ""}`, p);
    return [...seen.values()];
}

/**
 * pkg/resolvers/endpoints.go resolveIngressPorts: numeric ports as written (convertToPolicyInfoPortForCIDRs);
 * with any named port, every port is resolved against the pods the policy applies to
 * (getIngressRulesPorts, getPortList), ports that resolve on no pod dropped.
 */
export function resolveIngressPorts(policy: NetworkPolicy, ports: NetworkPolicyPort[] | undefined, state: ClusterState): EndpointPort[] {
    if (!ports || ports.length === 0) return [];
    const withProtocol = ports.map((p) => ({ ...p, protocol: p.protocol ?? "TCP" }));
    if (!withProtocol.some((p) => typeof p.port === "string")) {
        return withProtocol.map((p) => (p.port === undefined ? { protocol: p.protocol } : { protocol: p.protocol, port: p.port as number, ...(p.endPort !== undefined ? { endPort: p.endPort } : {}) }));
    }
    const resolved: EndpointPort[] = [];
    for (const pod of podsSelectedBy(policy, state).filter(networkReady)) {
        for (const p of withProtocol) {
            if (p.port === undefined) {
                resolved.push({ protocol: p.protocol, ...(p.endPort !== undefined ? { endPort: p.endPort } : {}) });
                continue;
            }
            const port = lookupContainerPort(pod, p.port, p.protocol);
            if (port !== undefined) resolved.push({ protocol: p.protocol, port, ...(p.endPort !== undefined ? { endPort: p.endPort } : {}) });
        }
    }
    return dedupPorts(resolved);
}

/** The pods of the policy's namespace its podSelector selects. */
function podsSelectedBy(policy: NetworkPolicy, state: ClusterState): Pod[] {
    return state.pods.filter((p) => p.namespace === policy.metadata.namespace && selects(policy.spec.podSelector, p.labels));
}

/** pkg/resolvers/endpoints.go resolvePeerNamespaces: no namespaceSelector means the policy's own namespace. */
function peerNamespaces(policy: NetworkPolicy, peer: NetworkPolicyPeer, state: ClusterState): string[] {
    const selector = peer.namespaceSelector;
    if (selector === undefined) return [policy.metadata.namespace];
    return state.namespaces.filter((ns) => selects(selector, ns.labels)).map((ns) => ns.name);
}

/**
 * pkg/resolvers/endpoints.go computeIngressEndpoints: per rule, ports once; a rule whose ports all
 * fail to resolve is skipped; no `from` allows 0.0.0.0/0 and ::/0 (buildAllowAllIngress); an
 * ipBlock is copied as is (buildIPBlockEndpoint); selector peers become the IPs of the matching,
 * network-ready pods (hostNetwork pods included), a nil podSelector matching all of them.
 */
export function computeIngressEndpoints(policy: NetworkPolicy, state: ClusterState): EndpointInfo[] {
    const endpoints: EndpointInfo[] = [];
    for (const rule of policy.spec.ingress ?? []) {
        const ports = resolveIngressPorts(policy, rule.ports, state);
        if ((rule.ports ?? []).length !== 0 && ports.length === 0) continue;
        const withPorts = (e: EndpointInfo): EndpointInfo => (ports.length > 0 ? { ...e, ports } : e);
        if (rule.from === undefined) {
            endpoints.push(withPorts({ cidr: "0.0.0.0/0" }), withPorts({ cidr: "::/0" }));
            continue;
        }
        for (const peer of rule.from) {
            if (peer.ipBlock) {
                endpoints.push(withPorts({ cidr: peer.ipBlock.cidr, ...(peer.ipBlock.except?.length ? { except: peer.ipBlock.except } : {}) }));
                continue;
            }
            for (const ns of peerNamespaces(policy, peer, state)) {
                const selector = peer.podSelector;
                const pods = state.pods.filter((p) => p.namespace === ns && (selector === undefined || selects(selector, p.labels)));
                for (const pod of pods.filter(networkReady)) endpoints.push(withPorts({ cidr: pod.ip ?? "" }));
            }
        }
    }
    return endpoints;
}

/** pkg/policyendpoints/manager.go combineRulesEndpoints: entries with the same CIDR and exceptions merge; all ports wins. */
export function combineRulesEndpoints(endpoints: EndpointInfo[]): EndpointInfo[] {
    const combined = new Map<string, EndpointInfo>();
    for (const e of endpoints) {
        const key = `${e.cidr}|${[...(e.except ?? [])].sort().join("|")}`;
        const existing = combined.get(key);
        if (!existing) {
            combined.set(key, e);
            continue;
        }
        const allPorts = (existing.ports ?? []).length === 0 || (e.ports ?? []).length === 0;
        combined.set(key, { ...existing, ports: allPorts ? [] : dedupPorts([...(existing.ports ?? []), ...(e.ports ?? [])]) });
    }
    return [...combined.values()];
}

/** pkg/resolvers/endpoints.go computePodSelectorEndpoints (skips hostNetwork and not-network-ready pods) and manager.go: one PolicyEndpoint. */
export function policyEndpoint(policy: NetworkPolicy, state: ClusterState): PolicyEndpoint {
    return {
        policy: policy.metadata.name,
        namespace: policy.metadata.namespace,
        podIPs: podsSelectedBy(policy, state).filter((p) => !p.hostNetwork && networkReady(p)).map((p) => p.ip ?? ""),
        podIsolation: policy.spec.policyTypes ?? [],
        ingress: combineRulesEndpoints(computeIngressEndpoints(policy, state)),
    };
}

// ------------------------------------------------------------------------------------------------
// 2. Agent: PolicyEndpoints -> LPM trie -> verdict (aws-network-policy-agent v1.4.1)
// ------------------------------------------------------------------------------------------------

/** One firewall rule (pkg/fwruleprocessor EbpfFirewallRules, ingress part). */
export interface FirewallRule {
    ipCidr: string;
    except?: string[];
    l4Info?: EndpointPort[];
}

/**
 * controllers/policyendpoints_controller.go deriveIngressAndEgressFirewallRules with
 * deriveDefaultPodIsolation: the rules of every PolicyEndpoint that applies to the pod, and
 * whether ingress is isolated (a PolicyEndpoint with podIsolation Ingress while no ingress rule
 * has been collected yet; any rule at all clears it).
 */
export function deriveIngressFirewallRules(endpoints: PolicyEndpoint[]): { rules: FirewallRule[]; isolated: boolean } {
    const rules: FirewallRule[] = [];
    let isolated = false;
    for (const pe of endpoints) {
        for (const e of pe.ingress) rules.push({ ipCidr: e.cidr, ...(e.except ? { except: e.except } : {}), ...(e.ports ? { l4Info: e.ports } : {}) });
        if (pe.podIsolation.includes("Ingress") && rules.length === 0) isolated = true;
    }
    return { rules, isolated: rules.length > 0 ? false : isolated };
}

/** pkg/fwruleprocessor sortFirewallRulesByPrefixLength: ascending prefix length, a bare IP counting as the host mask. */
export function sortFirewallRulesByPrefixLength(rules: FirewallRule[], hostMask = "/32"): FirewallRule[] {
    const length = (r: FirewallRule) => Number((r.ipCidr.includes("/") ? r.ipCidr : r.ipCidr + hostMask).split("/")[1]);
    return [...rules].sort((a, b) => length(a) - length(b));
}

/** pkg/fwruleprocessor mergeDuplicateL4Info: one entry per protocol, port, endPort. */
export function mergeDuplicateL4Info(ports: EndpointPort[]): EndpointPort[] {
    const unique = new Map<string, EndpointPort>();
    for (const p of ports) {
        const key = `${p.protocol ?? ""}:${p.port ?? 0}:${p.endPort ?? 0}`;
        if (!unique.has(key)) unique.set(key, p);
    }
    return [...unique.values()];
}

/** pkg/fwruleprocessor checkAndDeriveL4InfoFromAnyMatchingCIDRs: the ports of every broader CIDR containing `cidr`, unless it lies in that CIDR's except. */
export function checkAndDeriveL4InfoFromAnyMatchingCIDRs(cidr: string, broader: ReadonlyMap<string, FirewallRule>): EndpointPort[] {
    const target = parseCidr(cidr);
    if (!target) return [];
    const derived: EndpointPort[] = [];
    for (const [key, rule] of broader) {
        const entry = parseCidr(key);
        if (!entry || !contains(entry, target.address)) continue;
        const excepted = (rule.except ?? []).some((e) => {
            const ex = parseCidr(e);
            return ex !== undefined && contains(ex, target.address);
        });
        if (!excepted) derived.push(...(rule.l4Info ?? []));
    }
    return derived;
}

/**
 * pkg/fwruleprocessor ComputeMapEntriesFromEndpointRules: the trie entries (CIDR -> ports) of a
 * pod's ingress map. The node IP gets allow-all first; rules sorted by prefix length; a rule
 * without ports gets the catch-all; a rule's CIDR equal to the node IP, and IPv6 rules, are
 * skipped (shouldSkipRule); a repeated CIDR merges; a new one inherits the ports of broader
 * non-host CIDRs not excepting it; every except CIDR that is not itself a rule gets deny-all.
 */
export function computeMapEntries(rules: FirewallRule[], nodeIP: string, hostMask = "/32"): Map<string, EndpointPort[]> {
    const map = new Map<string, EndpointPort[]>();
    const cidrs = new Map<string, FirewallRule>();
    const exceptCidrs = new Set<string>();
    const nonHost = new Map<string, FirewallRule>();
    const keyOf = (cidr: string) => {
        const p = parseCidr(cidr);
        return p === undefined ? cidr : `${[24, 16, 8, 0].map((s) => Math.floor(p.address / 2 ** s) % 256).join(".")}/${p.length}`;
    };
    map.set(keyOf(nodeIP + hostMask), [{ protocol: "ANY" }]);
    for (const original of sortFirewallRulesByPrefixLength(rules, hostMask)) {
        const rule: FirewallRule = { ...original, except: [...(original.except ?? [])], l4Info: [...(original.l4Info ?? [])] };
        for (const e of rule.except ?? []) exceptCidrs.add(e);
        if (!rule.ipCidr.includes("/")) rule.ipCidr += hostMask;
        // utils.IsNodeIP compares the address as written (net.ParseCIDR's IP, not its network).
        if (isIPv6(rule.ipCidr) || ipv4(rule.ipCidr.split("/")[0] ?? "") === ipv4(nodeIP)) continue;
        if ((rule.l4Info ?? []).length === 0) rule.l4Info = [{ protocol: "ANY" }];
        const existing = cidrs.get(rule.ipCidr);
        if (existing) {
            rule.l4Info = [...(rule.l4Info ?? []), ...(existing.l4Info ?? [])];
            rule.except = [...(rule.except ?? []), ...(existing.except ?? [])];
        } else {
            rule.l4Info = [...(rule.l4Info ?? []), ...checkAndDeriveL4InfoFromAnyMatchingCIDRs(rule.ipCidr, nonHost)];
        }
        cidrs.set(rule.ipCidr, rule);
        if (!/\/(32|128)$/.test(rule.ipCidr)) nonHost.set(rule.ipCidr, rule);
    }
    for (const e of exceptCidrs) {
        if (!cidrs.has(e)) cidrs.set(e, { ipCidr: e, except: [], l4Info: [{ protocol: "DENY" }] });
    }
    // Keys are the networks net.ParseCIDR yields, so `10.0.0.5/24` and `10.0.0.0/24` are one trie key.
    for (const [cidr, rule] of cidrs) map.set(keyOf(cidr), mergeDuplicateL4Info(rule.l4Info ?? []));
    return map;
}

/** The trie lookup: the entry of the longest prefix containing `ip` (BPF_MAP_TYPE_LPM_TRIE). */
export function longestPrefixMatch(entries: ReadonlyMap<string, EndpointPort[]>, ip: string): EndpointPort[] | undefined {
    const address = ipv4(ip);
    if (address === undefined) return undefined;
    let best: { length: number; ports: EndpointPort[] } | undefined;
    for (const [cidr, ports] of entries) {
        const p = parseCidr(cidr);
        if (p && contains(p, address) && (!best || p.length > best.length)) best = { length: p.length, ports };
    }
    return best?.ports;
}

/**
 * pkg/ebpf/c/tc.v4ingress.bpf.c evaluateNamespacePolicyByLookUp for a trie hit: a deny-all entry
 * (RESERVED_IP_PROTOCOL) denies; otherwise an entry of the packet's protocol (or ANY) whose port
 * is 0 (any), equal, or whose range (start, end] holds the port allows; else deny. Only the first
 * 24 entries fit a trie value (utils.ComputeTrieValue, TRIE_VALUE_LENGTH 288 / 12).
 */
export function l4Allows(ports: EndpointPort[], protocol: Protocol, port: number): boolean {
    // A value written without ports is allow-all (ComputeTrieValue).
    if (ports.length === 0) return true;
    const fitting = ports.slice(0, 24);
    if (fitting.some((p) => p.protocol === "DENY")) return false;
    return fitting.some((p) => {
        // deriveProtocolValue: no protocol is ANY_IP_PROTOCOL.
        const entryProtocol = p.protocol ?? "ANY";
        const start = p.port ?? 0;
        const end = p.endPort ?? 0;
        return (entryProtocol === "ANY" || entryProtocol === protocol) && (start === 0 || port === start || (port > start && port <= end));
    });
}

/** Verdict of the model for one new flow. */
export type Verdict = "allow" | "deny";

/**
 * Whether a new flow from `source` to `destination:port/protocol` gets in
 * (tc.v4ingress.bpf.c handle_ingress and evaluateFlow, cluster tiers passing). A pod no
 * PolicyEndpoint applies to is in DEFAULT_ALLOW (standard mode): everything gets in. Otherwise it is
 * POLICIES_APPLIED: a pod with no ingress rules and no ingress isolation gets a catch-all entry
 * (policyendpoints_controller.go reconcilePolicyEndpoint, addCatchAllEntry); then the trie decides,
 * a miss denying. hostNetwork pods are never targets.
 */
export function ingressVerdict(state: ClusterState, destination: Pod, source: string, port: number, protocol: Protocol = "TCP"): Verdict {
    const endpoints = state.policies
        .filter((p) => p.metadata.namespace === destination.namespace)
        .map((p) => policyEndpoint(p, state))
        .filter((pe) => destination.ip !== undefined && pe.podIPs.includes(destination.ip));
    if (endpoints.length === 0) return "allow";
    const { rules, isolated } = deriveIngressFirewallRules(endpoints);
    const effective = rules.length === 0 && !isolated ? [{ ipCidr: "0.0.0.0/0" }] : rules;
    const hit = longestPrefixMatch(computeMapEntries(effective, destination.nodeIP), source);
    return hit !== undefined && l4Allows(hit, protocol, port) ? "allow" : "deny";
}
