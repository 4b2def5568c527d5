/**
 * EKS managed add-ons: the VPC CNI (with NetworkPolicy enforcement), kube-proxy, the Pod Identity
 * agent and CoreDNS.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { EKS_ADDONS } from "./config";

/** Name of an EKS add-on this program installs. */
export type EksAddonName = (typeof EKS_ADDONS)[number];

/**
 * `configurationValues` per add-on. The VPC CNI enforces NetworkPolicy only with its network
 * policy agent on; without it every service's NetworkPolicy would be accepted and ignored.
 */
export const ADDON_CONFIGURATION: Partial<Record<EksAddonName, Record<string, unknown>>> = {
    "vpc-cni": { enableNetworkPolicy: "true" },
};

/**
 * Add-ons nodes need to become Ready (networking, service routing, credentials for pods). They
 * are installed before the node groups; CoreDNS needs running nodes, so it comes after.
 */
export const ADDONS_BEFORE_NODES: readonly EksAddonName[] = ["vpc-cni", "kube-proxy", "eks-pod-identity-agent"];

export interface EksAddonArgs {
    /** Cluster to install into. */
    clusterName: pulumi.Input<string>;
    /**
     * Pinned version. Default: none given, so EKS picks the version when it creates the add-on
     * and the stack keeps whatever is installed (@pulumi/aws 7.48.0 Addon `addonVersion` is
     * optional and computed). A version looked up at every preview instead
     * (`aws.eks.getAddonVersion`) would make the drift check report a change each time AWS moves
     * its default; to upgrade an add-on (after a Kubernetes upgrade, say), pin it.
     */
    version?: string;
}

/** One EKS managed add-on, at its pinned version or the one EKS installed it with. */
export function eksAddon(name: string, addon: EksAddonName, args: EksAddonArgs, opts: pulumi.CustomResourceOptions & { provider: aws.Provider }): aws.eks.Addon {
    const configuration = ADDON_CONFIGURATION[addon];
    return new aws.eks.Addon(
        `${name}-${addon}`,
        {
            clusterName: args.clusterName,
            addonName: addon,
            addonVersion: args.version,
            configurationValues: configuration === undefined ? undefined : JSON.stringify(configuration),
            // The stack is the source of truth: settings drifted by hand are put back.
            resolveConflictsOnCreate: "OVERWRITE",
            resolveConflictsOnUpdate: "OVERWRITE",
        },
        opts,
    );
}
