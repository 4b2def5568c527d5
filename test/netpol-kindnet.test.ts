/**
 * NetworkPolicy on kind (issue #11, item 7). First the model of kindnet's engine
 * (test/netpol-kindnet.ts) against kube-network-policies' own test cases
 * (`pkg/networkpolicy/networkpolicy_test.go` at v1.0.0, byte-identical at the f67f0fb35e2b kindnetd
 * pins), transcribed; then the dev stack's generated NetworkPolicies, judged the way that engine
 * judges them, for a caller, a non-caller, a pod in another namespace, the load balancer's
 * forwarded traffic and health checks, and the kubelet.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { selectorLabels } from "../components/microservice";
import { at, runStack, type K8sObject } from "./harness";
import {
    asStored, evaluateIPBlocks, evaluatePacket, evaluatePorts, evaluateSelectors, kindnetAllows,
    type ClusterState, type LabelSelector, type Namespace, type NetworkPolicy, type Packet, type Pod, type PolicyPort,
} from "./netpol-kindnet";

// ---------------------------------------------------------------------------------------------
// kube-network-policies v1.0.0 pkg/networkpolicy/networkpolicy_test.go
// ---------------------------------------------------------------------------------------------

const makeNamespace = (name: string): Namespace => ({ name, labels: { "kubernetes.io/metadata.name": name, a: "b" } });
const makePod = (name: string, namespace: string, ip: string, labels: Record<string, string> = { a: "b" }): Pod =>
    ({ name, namespace, ip, labels, ports: [{ name: "http", containerPort: 80, protocol: "TCP" }] });
/** `makePort`: no port for 0 or "", an end port when not 0. */
const makePort = (protocol: string, port: number | string, endPort = 0): PolicyPort =>
    ({ protocol, ...(port !== 0 && port !== "" && port !== "0" ? { port } : {}), ...(endPort !== 0 ? { endPort } : {}) });
const policy = (name: string, namespace: string, spec: NetworkPolicy["spec"]): NetworkPolicy => ({ metadata: { name, namespace }, spec });

const podA = makePod("a", "foo", "192.168.1.11");
const podB = makePod("b", "bar", "192.168.2.22");
const podC = makePod("c", "blocked", "192.168.3.33", { c: "d" });
const podD = makePod("d", "bar", "192.168.4.44", { c: "d" });
const ab = { matchLabels: { a: "b" } };

const npDefaultDenyIngress = policy("default-deny-ingress", "bar", { podSelector: {}, policyTypes: ["Ingress"] });
const npDefaultDenyEgress = policy("default-deny-ingress", "bar", { podSelector: {}, policyTypes: ["Egress"] });
const npAllowAllIngress = policy("default-allow-ingress", "bar", { podSelector: {}, policyTypes: ["Ingress"], ingress: [] });
const npAllowAllIngressIPBlock = policy("default-allow-ingress-ipBlock", "bar", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ ipBlock: { cidr: "192.168.0.0/16" } }] }] });
const npMultiPortEgress = policy("multiport-egress", "foo", { podSelector: ab, policyTypes: ["Egress"], egress: [{ ports: [makePort("TCP", 30000, 65537)], to: [] }] });
const npMultiPortEgressIPBlock = policy("multiport-egress", "foo", { podSelector: ab, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "192.168.0.0/16" } }] }] });
const npMultiPortEgressPodSelector = policy("multiport-egress", "foo", { podSelector: ab, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: ab }] }] });
const npMultiPortEgressNsSelector = policy("multiport-egress-ns", "foo", { podSelector: ab, policyTypes: ["Egress"], egress: [{ to: [{ namespaceSelector: ab }] }] });
const npMultiPortEgressPodNsSelector = policy("multiport-egress-pod-ns", "foo", { podSelector: ab, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: ab, namespaceSelector: ab }] }] });
const npMultiPortIngressPodNsSelector = policy("multiport-ingress-pod-ns", "bar", { podSelector: ab, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: ab, namespaceSelector: ab }] }] });
const namedPortEgress = (port: string) => policy("allow-named-port-egress", "foo", { podSelector: ab, policyTypes: ["Egress"], egress: [{ ports: [{ protocol: "TCP", port }] }] });

const tcp = (srcIP: string, dstIP: string, dstPort: number): Packet => ({ srcIP, dstIP, dstPort, protocol: "TCP" });
const ALL = [podA, podB, podC, podD];
const NS = [makeNamespace("foo"), makeNamespace("bar")];

/** TestSyncPacket: name, policies, pods, packet, expected verdict. */
const syncPacketCases: [string, NetworkPolicy[], Pod[], Packet, boolean][] = [
    ["no network policy", [], ALL, tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["deny ingress", [npDefaultDenyIngress], ALL, tcp("192.168.1.11", "192.168.2.22", 80), false],
    ["deny egress", [npDefaultDenyEgress], ALL, tcp("192.168.2.22", "192.168.1.11", 80), false],
    ["deny egress on reply does not have effect", [npDefaultDenyEgress], ALL, tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["allow all override deny ingress", [npDefaultDenyIngress, npAllowAllIngress], ALL, tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["ip block override deny ingress", [npDefaultDenyIngress, npAllowAllIngressIPBlock], ALL, tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["ip block deny ingress", [npAllowAllIngressIPBlock], ALL, tcp("10.0.0.1", "192.168.2.22", 80), false],
    ["multiport deny egress port", [npDefaultDenyEgress, npMultiPortEgress], ALL, tcp("192.168.1.11", "192.168.2.22", 80), false],
    ["multiport allow egress port", [npDefaultDenyEgress, npMultiPortEgress], ALL, tcp("192.168.1.11", "192.168.2.22", 30080), true],
    ["multiport allow egress", [npDefaultDenyEgress, npMultiPortEgress, npMultiPortEgressIPBlock], ALL, tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["multiport allow egress port selector not match ns", [npDefaultDenyEgress, npMultiPortEgress, npMultiPortEgressPodSelector], ALL, tcp("192.168.1.11", "192.168.2.22", 80), false],
    ["multiport allow egress port selector not match pod selector", [npDefaultDenyEgress, npMultiPortEgress, npMultiPortEgressPodSelector], ALL, tcp("192.168.1.11", "192.168.3.33", 80), false],
    ["multiport allow egress ns selector", [npDefaultDenyEgress, npMultiPortEgress, npMultiPortEgressNsSelector], ALL, tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["multiport allow egress ns selector fail", [npDefaultDenyEgress, npMultiPortEgress, npMultiPortEgressNsSelector], ALL, tcp("192.168.1.11", "192.168.3.33", 80), false],
    ["multiport allow egress ns and pod selector", [npDefaultDenyEgress, npMultiPortEgress, npMultiPortEgressPodNsSelector], ALL, tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["multiport allow egress ns and pod selector fail", [npDefaultDenyEgress, npMultiPortEgress, npMultiPortEgressPodNsSelector], ALL, tcp("192.168.1.11", "192.168.3.33", 80), false],
    ["multiport allow ingress ns and pod selector", [npDefaultDenyIngress, npMultiPortIngressPodNsSelector], ALL, tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["multiport allow ingress ns and pod selector fail", [npDefaultDenyIngress, npMultiPortIngressPodNsSelector], ALL, tcp("192.168.1.11", "192.168.4.44", 80), false],
    ["allow egress on named port", [namedPortEgress("http")], [podA, podB], tcp("192.168.1.11", "192.168.2.22", 80), true],
    ["deny egress on wrong named port", [namedPortEgress("https")], [podA, podB], tcp("192.168.1.11", "192.168.2.22", 80), false],
];

describe("the model of kindnet's engine against kube-network-policies v1.0.0's own tests", () => {
    it.each(syncPacketCases)("TestSyncPacket %s", (_name, policies, pods, packet, expected) => {
        expect(evaluatePacket({ policies, pods, namespaces: NS }, packet)).toBe(expected);
    });

    // TestEvaluator_evaluateSelectors
    const pod1: Pod = { name: "pod1", namespace: "ns1", labels: { app: "foo" }, ip: "10.0.0.1" };
    const pod2: Pod = { name: "pod2", namespace: "ns2", labels: { app: "bar" }, ip: "10.0.0.2" };
    const ns = { ns1: { team: "blue" }, ns2: { team: "red" } };
    const foo = { matchLabels: { app: "foo" } };
    const bar = { matchLabels: { app: "bar" } };
    const blue = { matchLabels: { team: "blue" } };
    const red = { matchLabels: { team: "red" } };
    const selectorCases: [string, LabelSelector | undefined, LabelSelector | undefined, Pod, boolean][] = [
        ["no selectors", undefined, undefined, pod1, true],
        ["matching pod selector", foo, undefined, pod1, true],
        ["non-matching pod selector", bar, undefined, pod1, false],
        ["matching namespace selector", undefined, blue, pod1, true],
        ["non-matching namespace selector", undefined, red, pod1, false],
        ["matching pod and namespace selectors", foo, blue, pod1, true],
        ["matching pod, non-matching namespace selector", foo, red, pod1, false],
        ["non-matching pod, matching namespace selector", bar, blue, pod1, false],
        ["empty pod selector matches all pods in policy namespace", {}, undefined, pod1, true],
        ["empty pod selector does not match pod in other namespace", {}, undefined, pod2, false],
        ["empty namespace selector matches all namespaces", undefined, {}, pod2, true],
    ];
    it.each(selectorCases)("TestEvaluator_evaluateSelectors %s", (_name, podSelector, namespaceSelector, pod, expected) => {
        expect(evaluateSelectors(podSelector, namespaceSelector, { pod, namespaceLabels: ns[pod.namespace as keyof typeof ns] }, "ns1")).toBe(expected);
    });

    // TestEvaluator_evaluateIPBlocks
    const ipBlockCases: [string, { cidr: string; except?: string[] } | undefined, string, boolean][] = [
        ["empty", undefined, "", true],
        ["match cidr", { cidr: "192.168.0.0/24" }, "192.168.0.1", true],
        ["no match cidr", { cidr: "192.168.0.0/24" }, "10.0.0.1", false],
        ["match cidr and not except", { cidr: "192.168.0.0/24", except: ["192.168.1.0/24"] }, "192.168.0.1", true],
        ["match cidr and  except", { cidr: "192.168.0.0/24", except: ["192.168.1.0/24"] }, "192.168.1.1", false],
    ];
    it.each(ipBlockCases)("TestEvaluator_evaluateIPBlocks %s", (_name, block, ip, expected) => {
        expect(evaluateIPBlocks(block, ip)).toBe(expected);
    });

    // TestEvaluator_evaluatePorts
    const named = makePod("a", "b", "192.168.1.1");
    const portCases: [string, PolicyPort[] | undefined, Pod | undefined, number, string, boolean][] = [
        ["empty", undefined, undefined, 0, "", true],
        ["match TCP", [makePort("TCP", 30000)], undefined, 30000, "TCP", true],
        ["match UDP", [makePort("UDP", 30000)], undefined, 30000, "UDP", true],
        ["no match TCP", [makePort("TCP", 30000)], undefined, 138, "TCP", false],
        ["no match UDP", [makePort("UDP", 30000)], undefined, 138, "UDP", false],
        ["match TCP range", [makePort("TCP", 30000, 65537)], undefined, 30138, "TCP", true],
        ["match UDP range", [makePort("UDP", 30000, 65537)], undefined, 30138, "UDP", true],
        ["no match TCP range", [makePort("TCP", 30000, 65537)], undefined, 138, "TCP", false],
        ["no match UDP range", [makePort("UDP", 30000, 65537)], undefined, 138, "UDP", false],
        ["match TCP named port", [makePort("TCP", "http")], named, 80, "TCP", true],
        ["no match UDP named port", [makePort("UDP", "http")], named, 80, "TCP", false],
    ];
    it.each(portCases)("TestEvaluator_evaluatePorts %s", (_name, ports, pod, port, protocol, expected) => {
        expect(evaluatePorts(ports, pod, port, protocol)).toBe(expected);
    });

    it("reads policies as the API server stores them: defaulted types and protocols, empty rule lists as nil", () => {
        // An `ingress: []` built in memory allows all (the upstream case above); through the API it
        // arrives nil and denies, as the NetworkPolicy documentation says.
        const stored = asStored(policy("p", "bar", { podSelector: {}, ingress: [] }));
        expect(stored.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress"] });
        expect(evaluatePacket({ policies: [stored], pods: ALL, namespaces: NS }, tcp("192.168.1.11", "192.168.2.22", 80))).toBe(false);
        expect(asStored(policy("q", "bar", { podSelector: {}, egress: [{ ports: [{ port: 53 }] }] })).spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"], egress: [{ ports: [{ port: 53, protocol: "TCP" }] }] });
    });
});

// ---------------------------------------------------------------------------------------------
// The dev stack's NetworkPolicies on kind
// ---------------------------------------------------------------------------------------------

/** Pod IPs from kind's default pod subnet (kind pkg/apis/config/v1alpha4/default.go: 10.244.0.0/16). */
const POD_IP = { backend: "10.244.1.10", messages: "10.244.2.20", reports: "10.244.1.30", store: "10.244.2.60", coredns: "10.244.0.2", debug: "10.244.2.40", otherBackend: "10.244.1.50" };
/** Addresses on the `kind` Docker network (the mocks' 172.18.0.0/16): a node, and an envoy load-balancer container. */
const NODE_IP = "172.18.0.3";
const ENVOY_IP = "172.18.0.7";

/** The cluster a dev stack makes: its namespaces, one pod per Deployment and StatefulSet (the store), CoreDNS, a debug pod, and another namespace. */
function devCluster(objects: K8sObject[], namespace: string, ingressCidr?: string): ClusterState {
    const policies = objects.filter((o) => o.kind === "NetworkPolicy").map((o) => {
        const np = asStored(o as unknown as NetworkPolicy);
        if (ingressCidr === undefined) return np;
        // The same policies with the load balancer's source range replaced (the old 0.0.0.0/0).
        return { ...np, spec: { ...np.spec, ingress: np.spec.ingress?.map((r) => ({ ...r, from: r.from?.map((f) => (f.ipBlock ? { ipBlock: { cidr: ingressCidr } } : f)) })) } };
    });
    const deployments = objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
    const pods: Pod[] = deployments.map((d) => ({
        name: `${d.metadata!.name}-pod`,
        namespace,
        labels: at<Record<string, string>>(d, "spec.template.metadata.labels"),
        ip: POD_IP[d.metadata!.name as keyof typeof POD_IP],
        ports: at<{ name: string; containerPort: number; protocol: string }[]>(d, "spec.template.spec.containers.0.ports"),
    }));
    pods.push(
        { name: "coredns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, ip: POD_IP.coredns, ports: [{ name: "dns", containerPort: 53, protocol: "UDP" }, { name: "dns-tcp", containerPort: 53, protocol: "TCP" }] },
        // `kubectl run debug` in the services' namespace: selected by no policy, so free to send.
        { name: "debug", namespace, labels: { run: "debug" }, ip: POD_IP.debug },
        // A pod elsewhere that copies backend's labels.
        { name: "impostor", namespace: "other", labels: selectorLabels("backend", "dev"), ip: POD_IP.otherBackend },
        // kube-proxy runs on the host network: its IP is the node's, which the engine never resolves to a pod.
        { name: "kube-proxy", namespace: "kube-system", labels: { "k8s-app": "kube-proxy" }, ip: NODE_IP, hostNetwork: true },
    );
    const nsObject = objects.find((o) => o.kind === "Namespace" && o.metadata?.name === namespace);
    const namespaces: Namespace[] = [
        // The API server adds kubernetes.io/metadata.name to every namespace.
        { name: namespace, labels: { ...(nsObject?.metadata?.labels ?? {}), "kubernetes.io/metadata.name": namespace } },
        { name: "kube-system", labels: { "kubernetes.io/metadata.name": "kube-system" } },
        { name: "other", labels: { "kubernetes.io/metadata.name": "other" } },
    ];
    return { policies, pods, namespaces };
}

describe("the dev stack's NetworkPolicies, judged as kindnet judges them", () => {
    let cluster: ClusterState;
    let before: ClusterState;
    let cidr: string;
    const toMessages = (srcIP: string): Packet => tcp(srcIP, POD_IP.messages, 8080);

    beforeAll(async () => {
        const p = await runStack("dev");
        const objects = p.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.includes("helm")).map((r) => {
            const kind = r.type.split(":").pop()!;
            return { ...(r.inputs as K8sObject), kind };
        });
        const ns = String(p.run.outputs.namespace);
        cluster = devCluster(objects, ns);
        before = devCluster(objects, ns, "0.0.0.0/0");
        cidr = String(at(cluster.policies.find((np) => np.metadata.name === "messages-allow"), "spec.ingress.0.from.0.ipBlock.cidr"));
    });

    it("admits load-balancer traffic from the kind network's subnet, read from Docker, not from everywhere", () => {
        expect(cidr).toBe("172.18.0.0/16");
        expect(cluster.policies.map((np) => np.metadata.name).sort()).toEqual([
            "backend-allow", "backend-default-deny", "messages-allow", "messages-default-deny", "reports-allow", "reports-default-deny", "store",
        ]);
    });

    it("lets messages, and only messages, reach the store (issue #13)", () => {
        const toStore = (srcIP: string): Packet => tcp(srcIP, POD_IP.store, 6379);
        expect(kindnetAllows(cluster, toStore(POD_IP.messages))).toBe(true);
        for (const other of [POD_IP.backend, POD_IP.reports, POD_IP.debug, POD_IP.otherBackend]) expect(kindnetAllows(cluster, toStore(other)), other).toBe(false);
        // Nor does the store start connections of its own.
        expect(kindnetAllows(cluster, tcp(POD_IP.store, POD_IP.messages, 8080))).toBe(false);
    });

    it("lets a caller in: backend -> messages and reports", () => {
        expect(kindnetAllows(cluster, toMessages(POD_IP.backend))).toBe(true);
        expect(kindnetAllows(cluster, tcp(POD_IP.backend, POD_IP.reports, 8080))).toBe(true);
        // And backend resolves them through CoreDNS.
        expect(kindnetAllows(cluster, { ...tcp(POD_IP.backend, POD_IP.coredns, 53), protocol: "UDP" })).toBe(true);
    });

    it("keeps a non-caller in the namespace out, whether fenced itself (reports) or not (a debug pod)", () => {
        expect(kindnetAllows(cluster, toMessages(POD_IP.reports))).toBe(false);
        expect(kindnetAllows(cluster, toMessages(POD_IP.debug))).toBe(false);
        expect(kindnetAllows(cluster, tcp(POD_IP.debug, POD_IP.backend, 8080))).toBe(false);
    });

    it("keeps a pod of another namespace out, even with the caller's labels", () => {
        expect(kindnetAllows(cluster, toMessages(POD_IP.otherBackend))).toBe(false);
    });

    it("lets the load balancer's forwarded traffic in: from its envoy container, or from the node that forwarded it", () => {
        // cloud-provider-kind v0.11.1 pkg/loadbalancer/proxy.go: envoy proxies to node InternalIPs'
        // NodePorts; kindnet judges the packet after DNAT, before SNAT.
        for (const src of [ENVOY_IP, NODE_IP]) {
            for (const dst of [POD_IP.backend, POD_IP.messages, POD_IP.reports]) expect(kindnetAllows(cluster, tcp(src, dst, 8080)), `${src} -> ${dst}`).toBe(true);
        }
        // Not the metrics port, which no Service exposes.
        expect(kindnetAllows(cluster, tcp(ENVOY_IP, POD_IP.messages, 9464))).toBe(false);
    });

    it("lets the load balancer's health checks through: envoy asks kube-proxy's healthz on the node, where no pod policy applies", () => {
        // proxy.go: http_health_check /healthz on port 10256 (kube-proxy) of each node.
        expect(kindnetAllows(cluster, tcp(ENVOY_IP, NODE_IP, 10256))).toBe(true);
    });

    it("lets the kubelet's probes through: root's sockets on the node bypass the engine", () => {
        // dataplane/controller.go `meta skuid 0 accept`; kubelet probes from the node, whatever its source address.
        expect(kindnetAllows(cluster, { ...toMessages("10.244.2.1"), fromNodeRoot: true })).toBe(true);
        expect(kindnetAllows(cluster, { ...tcp("10.244.2.1", POD_IP.messages, 9464), fromNodeRoot: true })).toBe(true);
        // The same packet from a process that is not root would be judged, and dropped.
        expect(kindnetAllows(cluster, toMessages("10.244.2.1"))).toBe(false);
    });

    it("would let every pod in with the load balancer's range at 0.0.0.0/0: the ipBlock matches pod IPs too", () => {
        expect(kindnetAllows(before, toMessages(POD_IP.debug))).toBe(true);
        expect(kindnetAllows(before, toMessages(POD_IP.otherBackend))).toBe(true);
        expect(kindnetAllows(before, toMessages(POD_IP.reports))).toBe(false); // its own egress policy still stops it
    });
});
