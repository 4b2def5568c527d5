/**
 * A small, pure model of how kind's network policy engine judges a packet: kindnetd runs
 * kubernetes-sigs/kube-network-policies (kind v0.32.0 `images/kindnetd/go.mod` pins
 * `v1.0.1-0.20260528073847-f67f0fb35e2b`; `pkg/networkpolicy/networkpolicy.go` is byte-identical at
 * that commit and at tag v1.0.0) with only the standard NetworkPolicy evaluator
 * (`images/kindnetd/cmd/kindnetd/main.go`). Each function names the upstream function it
 * transcribes. The interface is general (policies, pods and namespaces with their labels, and a
 * packet in; allowed or not out) so other engines' models can share it.
 */

/** A label selector (k8s.io/apimachinery metav1.LabelSelector). */
export interface LabelSelector {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

/** A NetworkPolicy port: protocol (the API defaults it to TCP), a number or a named port, an optional range end. */
export interface PolicyPort {
    protocol?: string;
    port?: number | string;
    endPort?: number;
}

/** A NetworkPolicy peer. */
export interface PolicyPeer {
    podSelector?: LabelSelector;
    namespaceSelector?: LabelSelector;
    ipBlock?: { cidr: string; except?: string[] };
}

/** The parts of a networking.k8s.io/v1 NetworkPolicy the engine reads. `ingress`/`egress` undefined is Go's nil. */
export interface NetworkPolicy {
    metadata: { name?: string; namespace: string };
    spec: {
        podSelector: LabelSelector;
        policyTypes?: ("Ingress" | "Egress")[];
        ingress?: { from?: PolicyPeer[]; ports?: PolicyPort[] }[];
        egress?: { to?: PolicyPeer[]; ports?: PolicyPort[] }[];
    };
}

/** A pod as the engine sees it. */
export interface Pod {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    /** Its IP; host-network pods have the node's, and the engine does not look them up. */
    ip: string;
    hostNetwork?: boolean;
    /** Container ports, for named ports. */
    ports?: { name?: string; containerPort: number; protocol?: string }[];
}

/** A namespace and its labels (the API server adds `kubernetes.io/metadata.name`). */
export interface Namespace {
    name: string;
    labels: Record<string, string>;
}

/** The first packet of a connection, after DNAT (so the destination is a pod IP and its container port). */
export interface Packet {
    srcIP: string;
    dstIP: string;
    dstPort: number;
    protocol: "TCP" | "UDP" | "SCTP";
    /** Sent from a socket of the root user on the node itself (the kubelet's probes, system daemons). */
    fromNodeRoot?: boolean;
}

/** What the engine knows: every policy, pod and namespace. */
export interface ClusterState {
    policies: NetworkPolicy[];
    pods: Pod[];
    namespaces: Namespace[];
}

/** The pod the engine resolves an IP to, with its namespace's labels. */
interface PodInfo {
    pod: Pod;
    namespaceLabels: Record<string, string>;
}

/**
 * A policy as the engine receives it from the API server: `policyTypes` defaulted (Ingress, and
 * Egress when there are egress rules: networking/v1 NetworkPolicySpec), each port's protocol
 * defaulted to TCP, and empty rule lists dropped, since they are `omitempty` on the wire and reach
 * the informer as nil (so `ingress: []` denies, as the API documents). Upstream's own unit tests
 * build policies in memory and skip this.
 */
export function asStored(policy: NetworkPolicy): NetworkPolicy {
    const ports = (list?: PolicyPort[]) => list?.map((p) => ({ ...p, protocol: p.protocol ?? "TCP" }));
    const nonEmpty = <T>(list?: T[]) => (list !== undefined && list.length > 0 ? list : undefined);
    const ingress = nonEmpty(policy.spec.ingress)?.map((r) => ({ ...r, from: nonEmpty(r.from), ports: nonEmpty(ports(r.ports)) }));
    const egress = nonEmpty(policy.spec.egress)?.map((r) => ({ ...r, to: nonEmpty(r.to), ports: nonEmpty(ports(r.ports)) }));
    const policyTypes = policy.spec.policyTypes ?? (egress ? ["Ingress", "Egress"] as const : ["Ingress"] as const);
    return { metadata: policy.metadata, spec: { podSelector: policy.spec.podSelector, policyTypes: [...policyTypes], ...(ingress ? { ingress } : {}), ...(egress ? { egress } : {}) } };
}

/** metav1.LabelSelectorAsSelector(...).Matches: every matchLabels pair and every expression holds; `{}` matches all. */
export function matchesSelector(selector: LabelSelector, labels: Record<string, string>): boolean {
    const pairs = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
    return pairs && (selector.matchExpressions ?? []).every((e) => {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        switch (e.operator) {
            case "In": return has && (e.values ?? []).includes(labels[e.key]!);
            case "NotIn": return !has || !(e.values ?? []).includes(labels[e.key]!);
            case "Exists": return has;
            case "DoesNotExist": return !has;
        }
    });
}

/** An IP address as a bit string (IPv4: 32 bits, IPv6: 128), or undefined if it is not one. */
function ipBits(ip: string): string | undefined {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
        const parts = ip.split(".").map(Number);
        return parts.every((n) => n <= 255) ? parts.map((n) => n.toString(2).padStart(8, "0")).join("") : undefined;
    }
    if (!ip.includes(":")) return undefined;
    const [head = "", tail] = ip.split("::");
    const groups = (s: string) => (s === "" ? [] : s.split(":"));
    const h = groups(head);
    const t = tail === undefined ? [] : groups(tail);
    const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
    if (all.length !== 8 || !all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
    return all.map((g) => parseInt(g, 16).toString(2).padStart(16, "0")).join("");
}

/** net.ParseCIDR(...).Contains(ip): same family, and the first prefix bits agree. Undefined when the CIDR does not parse. */
function cidrContains(cidr: string, ip: string): boolean | undefined {
    const [base = "", len] = cidr.split("/");
    const b = ipBits(base);
    const prefix = Number(len);
    if (b === undefined || len === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > b.length) return undefined;
    const i = ipBits(ip);
    return i !== undefined && i.length === b.length && i.slice(0, prefix) === b.slice(0, prefix);
}

/** `evaluateIPBlocks` (networkpolicy.go): in the CIDR and in no `except`; an unparsable CIDR accepts. */
export function evaluateIPBlocks(ipBlock: PolicyPeer["ipBlock"], ip: string): boolean {
    if (ipBlock === undefined) return true;
    const inside = cidrContains(ipBlock.cidr, ip);
    if (inside === undefined) return true;
    if (!inside) return false;
    for (const except of ipBlock.except ?? []) {
        const hit = cidrContains(except, ip);
        if (hit === undefined) return true;
        if (hit) return false;
    }
    return true;
}

/** intstr.IntOrString.IntValue(): a number, or a string's strconv.Atoi value (0 when it is not a number). */
const intValue = (port: number | string): number => (typeof port === "number" ? port : /^[+-]?\d+$/.test(port) ? parseInt(port, 10) : 0);

/** `evaluatePorts` (networkpolicy.go): no ports match all; else protocol, then number, named port or range. */
export function evaluatePorts(ports: PolicyPort[] | undefined, pod: Pod | undefined, port: number, protocol: string): boolean {
    if (ports === undefined || ports.length === 0) return true;
    for (const p of ports) {
        // Upstream dereferences the protocol pointer; the API server always sets it.
        if (protocol !== (p.protocol ?? "TCP")) continue;
        if (p.port === undefined) return true;
        if (port === intValue(p.port)) return true;
        if (pod !== undefined && typeof p.port === "string" && p.port !== "") {
            if ((pod.ports ?? []).some((c) => c.name === p.port && c.containerPort === port && (c.protocol ?? "TCP") === protocol)) return true;
        }
        if (p.endPort === undefined) continue;
        if (port > intValue(p.port) && port <= p.endPort) return true;
    }
    return false;
}

/** `evaluateSelectors` (networkpolicy.go): a peer's pod and namespace selectors against a pod. */
export function evaluateSelectors(podSelector: LabelSelector | undefined, namespaceSelector: LabelSelector | undefined, peer: PodInfo | undefined, policyNamespace: string): boolean {
    if (peer === undefined) return false;
    if (podSelector !== undefined) {
        if (!matchesSelector(podSelector, peer.pod.labels)) return false;
        if (namespaceSelector === undefined) return peer.pod.namespace === policyNamespace;
    }
    if (namespaceSelector !== undefined) {
        if (Object.keys(namespaceSelector.matchLabels ?? {}).length + (namespaceSelector.matchExpressions ?? []).length === 0) return true;
        return matchesSelector(namespaceSelector, peer.namespaceLabels);
    }
    return true;
}

/** `evaluateIngress` / `evaluateEgress` (networkpolicy.go): some rule's ports and some peer (ipBlock against the peer IP, selectors against the peer pod). */
function evaluateRules(
    policyNamespace: string,
    rules: { peers?: PolicyPeer[]; ports?: PolicyPort[] }[],
    portsPod: Pod | undefined,
    port: number,
    peer: PodInfo | undefined,
    peerIP: string,
    protocol: string,
): boolean {
    if (rules.length === 0) return true;
    for (const rule of rules) {
        if (!evaluatePorts(rule.ports, portsPod, port, protocol)) continue;
        if (rule.peers === undefined || rule.peers.length === 0) return true;
        for (const p of rule.peers) {
            if (p.ipBlock !== undefined) {
                if (evaluateIPBlocks(p.ipBlock, peerIP)) return true;
                continue;
            }
            // Traffic from (or to) outside the pods does not match selectors.
            if (peer === undefined) continue;
            if ((p.namespaceSelector !== undefined || p.podSelector !== undefined) && evaluateSelectors(p.podSelector, p.namespaceSelector, peer, policyNamespace)) return true;
        }
    }
    return false;
}

/** `getNetworkPoliciesForPod` (networkpolicy.go): the policies of the pod's namespace whose podSelector selects it. */
function policiesFor(state: ClusterState, pod: PodInfo | undefined): NetworkPolicy[] {
    if (pod === undefined) return [];
    return state.policies.filter((p) => p.metadata.namespace === pod.pod.namespace && matchesSelector(p.spec.podSelector, pod.pod.labels));
}

/**
 * `EvaluatePolicyDirection` (networkpolicy.go), as EvaluateIngress/EvaluateEgress call it: allowed
 * when no policy selecting `subject` lists the direction, or when a rule of any such policy
 * matches; a listed direction with nil rules denies.
 */
function evaluateDirection(state: ClusterState, direction: "Ingress" | "Egress", subject: PodInfo | undefined, peer: PodInfo | undefined, packet: Packet): boolean {
    const policies = policiesFor(state, subject);
    let verdict = true;
    for (const policy of policies) {
        for (const type of policy.spec.policyTypes ?? []) {
            if (type !== direction) continue;
            verdict = false;
            if (direction === "Ingress") {
                const rules = policy.spec.ingress;
                if (rules === undefined) continue;
                // The selected pod's port is the packet's destination; the peer is its source.
                if (evaluateRules(policy.metadata.namespace, rules.map((r) => ({ peers: r.from, ports: r.ports })), subject?.pod, packet.dstPort, peer, packet.srcIP, packet.protocol)) return true;
            } else {
                const rules = policy.spec.egress;
                if (rules === undefined) continue;
                // Ports are checked against the destination pod, the ipBlock against the destination IP.
                if (evaluateRules(policy.metadata.namespace, rules.map((r) => ({ peers: r.to, ports: r.ports })), peer?.pod, packet.dstPort, peer, packet.dstIP, packet.protocol)) return true;
            }
        }
    }
    return verdict;
}

/**
 * `InformerProvider.GetPodInfoByIP` (pkg/podinfo/podinfo.go, the linear fallback): a pod with
 * that IP that is not on the host network, with its namespace's labels (none when the namespace is
 * unknown).
 */
function podByIP(state: ClusterState, ip: string): PodInfo | undefined {
    const pod = state.pods.find((p) => !p.hostNetwork && p.ip === ip);
    if (pod === undefined) return undefined;
    return { pod, namespaceLabels: state.namespaces.find((n) => n.name === pod.namespace)?.labels ?? {} };
}

/**
 * `PolicyEngine.EvaluatePacket` (pkg/networkpolicy/engine.go): egress of the source pod, then
 * ingress of the destination pod; either denying drops the packet, and no policy means accept.
 */
export function evaluatePacket(state: ClusterState, packet: Packet): boolean {
    const src = podByIP(state, packet.srcIP);
    const dst = podByIP(state, packet.dstIP);
    return evaluateDirection(state, "Egress", src, dst, packet) && evaluateDirection(state, "Ingress", dst, src, packet);
}

/**
 * What reaches the engine at all (kube-network-policies f67f0fb35e2b `pkg/dataplane/controller.go`,
 * the postrouting chain, before SNAT): traffic from a root socket on the node is accepted first
 * (`meta skuid 0 accept`, "it can block kubelet probes"; kindnetd does not skip it), and only
 * packets from or to a pod some policy selects (`ManagedIPs`) are queued to the engine; the rest
 * pass. The model treats the cluster as one node: every node judges a packet with the same
 * policies, so only which node sees it differs.
 */
export function kindnetAllows(state: ClusterState, packet: Packet): boolean {
    if (packet.fromNodeRoot) return true;
    const managed = (ip: string) => {
        const pod = podByIP(state, ip);
        return pod !== undefined && policiesFor(state, pod).length > 0;
    };
    if (!managed(packet.srcIP) && !managed(packet.dstIP)) return true;
    return evaluatePacket(state, packet);
}
