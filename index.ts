/**
 * kubeforge: stack config -> validated settings -> cluster -> platform add-ons -> store -> services -> outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { createCluster } from "./components/cluster";
import { loadSettings } from "./components/config";
import { DockerHost, needsDocker } from "./components/docker-host";
import { serviceImage } from "./components/image";
import { Microservice } from "./components/microservice";
import { Platform } from "./components/platform";
import { Store } from "./components/store/store";

const settings = loadSettings();
// The one Docker daemon the doctor checked: kind runs in it, images are built on it.
const docker = needsDocker(settings) ? new DockerHost("docker", { settings }) : undefined;
const kubeCluster = createCluster(settings, docker);
const k8sOpts = { providers: { kubernetes: kubeCluster.provider } };

const platform = new Platform("platform", {
    namespace: settings.namespace,
    kubeletInsecureTls: kubeCluster.kubeletInsecureTls,
    labels: kubeCluster.namespaceLabels,
}, { ...k8sOpts, dependsOn: kubeCluster.workloadDependencies });

// The store, when an enabled service keeps its state in it (messages does).
const storeClients = settings.services.filter((svc) => svc.store).map((svc) => svc.name);
const sharedStore = storeClients.length === 0 ? undefined : new Store("store", {
    settings: settings.store,
    namespace: platform.namespace,
    stack: settings.stack,
    clients: storeClients,
    cluster: kubeCluster,
}, { ...k8sOpts, dependsOn: kubeCluster.workloadDependencies });

const services = settings.services.map((svc) => {
    const image = serviceImage(svc, kubeCluster, docker?.provider ? { providers: [docker.provider] } : undefined);
    return new Microservice(svc.name, {
        service: svc,
        namespace: platform.namespace,
        stack: settings.stack,
        image,
        upstreams: settings.services
            .filter((other) => other.callers.includes(svc.name))
            .map((other) => ({ name: other.name, port: other.port })),
        cluster: kubeCluster,
        store: svc.store ? sharedStore : undefined,
    }, { ...k8sOpts, dependsOn: kubeCluster.workloadDependencies });
});

/** The cluster: flavour, name and what its flavour adds (EKS: endpoint, OIDC issuer, node groups, region; kind: kubeconfig context, registry; existing: context, registry). */
export const cluster = { flavour: kubeCluster.flavour, name: kubeCluster.clusterName, ...kubeCluster.details };
export const kubeconfig = pulumi.secret(kubeCluster.kubeconfig);
export const namespace = platform.namespace;
/** The store: its kind and, unless it is external (whose URL may carry a password), its URL. Never a password. */
export const store = sharedStore && { kind: sharedStore.kind, ...(sharedStore.kind === "external" ? {} : { url: sharedStore.url }) };
export const endpoints = Object.fromEntries(services.map((s) => [s.name, {
    name: s.name,
    namespace: s.namespace,
    address: s.address,
    url: s.url,
}]));
