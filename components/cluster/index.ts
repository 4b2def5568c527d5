/**
 * The factory that picks a cluster flavour from settings. The interface it returns lives in
 * ./types.ts, which the flavours import, so no import goes in a circle.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../config";
import type { DockerHost } from "../docker-host";
import { EksCluster } from "./eks/eks";
import { ExistingCluster } from "./existing/existing";
import { KindCluster } from "./kind/kind";
import type { KubeCluster } from "./types";

/** Build the cluster of the configured flavour; kind runs in `docker`, the checked local daemon. */
export function createCluster(settings: Settings, docker?: DockerHost, opts?: pulumi.ComponentResourceOptions): KubeCluster {
    const name = `${settings.project}-${settings.stack}`;
    switch (settings.cluster.flavour) {
        case "existing":
            return new ExistingCluster(name, { settings }, opts);
        case "kind": {
            if (docker?.provider === undefined) throw new pulumi.RunError("kind: the kind cluster needs the local Docker daemon, and none was given");
            return new KindCluster(name, { settings, docker: { provider: docker.provider, daemon: docker.daemon } }, opts);
        }
        case "eks":
            return new EksCluster(name, { settings }, opts);
    }
}
