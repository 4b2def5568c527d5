/**
 * A program for test/synth.test.ts, run by `npm run synth`'s entry point: a value feeding a
 * resource's inputs throws (as the kind flavour's node network does when Docker's `kind` network
 * has no IPv4 subnet, leaving every service's allow policy undeclared), and the resources around it
 * are fine.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

new k8s.core.v1.ConfigMap("before", { metadata: { name: "before" } });

const subnet = pulumi.output("fc00:f853:ccd:e793::/64").apply((cidr): string => {
    throw new pulumi.RunError(`the network has no IPv4 subnet (${cidr})`);
});
new k8s.networking.v1.NetworkPolicy("allow", {
    metadata: { name: "allow" },
    spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ ipBlock: { cidr: subnet } }] }] },
});

new k8s.core.v1.ConfigMap("after", { metadata: { name: "after" } });

export const declared = "yes";
