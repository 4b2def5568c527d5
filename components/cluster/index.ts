/**
 * The factory that picks a cluster flavour from settings. The interface it returns lives in
 * ./types.ts, which the flavours import, so no import goes in a circle.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../config";
import { EksCluster } from "./eks/eks";
import { ExistingCluster } from "./existing/existing";
import { KindCluster } from "./kind/kind";
import type { KubeCluster } from "./types";

/** Build the cluster of the configured flavour. */
export function createCluster(settings: Settings, opts?: pulumi.ComponentResourceOptions): KubeCluster {
    const name = `${settings.project}-${settings.stack}`;
    switch (settings.cluster.flavour) {
        case "existing":
            return new ExistingCluster(name, { settings }, opts);
        case "kind":
            return new KindCluster(name, { settings }, opts);
        case "eks":
            return new EksCluster(name, { settings }, opts);
    }
}
