/**
 * kubeforge: stack config -> validated settings -> cluster -> platform add-ons -> services -> outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { createCluster } from "./components/cluster";
import { loadSettings } from "./components/config";
import { serviceImage } from "./components/image";
import { Microservice } from "./components/microservice";
import { Platform } from "./components/platform";

const settings = loadSettings();
const cluster = createCluster(settings);
const k8sOpts = { providers: { kubernetes: cluster.provider } };

const platform = new Platform("platform", {
    namespace: settings.namespace,
    kubeletInsecureTls: cluster.kubeletInsecureTls,
}, { ...k8sOpts, dependsOn: cluster.workloadDependencies });

const services = settings.services.map((svc) => {
    const image = serviceImage(svc, cluster);
    return new Microservice(svc.name, {
        service: svc,
        namespace: platform.namespace,
        stack: settings.stack,
        image,
        upstreams: settings.services
            .filter((other) => other.callers.includes(svc.name))
            .map((other) => ({ name: other.name, port: other.port, servicePort: other.servicePort })),
        loadBalancerAnnotations: cluster.loadBalancerAnnotations,
        loadBalancerSourceRanges: cluster.loadBalancerSourceRanges,
        zoneSpread: cluster.hasZones,
    }, { ...k8sOpts, dependsOn: cluster.workloadDependencies });
});

export const clusterName = cluster.clusterName;
export const kubeconfig = pulumi.secret(cluster.kubeconfig);
export const namespace = platform.namespace;
export const endpoints = Object.fromEntries(services.map((s) => [s.name, {
    name: s.name,
    namespace: s.namespace,
    address: s.address,
}]));
