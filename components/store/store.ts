/**
 * The store the stateful services keep their data in, whatever it is: Valkey in the cluster
 * ({@link ValkeyStore}), the cluster cloud's managed store (ElastiCache for Valkey on EKS, through
 * `KubeCluster.managedStore`), or an external one. Either way its clients get the same two things:
 * a Kubernetes Secret `store-credentials` (`url` without credentials, `password`) that reaches
 * their containers only as `secretKeyRef`, and the one NetworkPolicy egress rule that reaches the
 * store.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { KubeCluster, StoreEndpoint } from "../cluster/types";
import { type StoreAccess, selectorLabels } from "../microservice";
import { STORE_NAME, STORE_PORT, type StoreKind, type StoreSettings } from "./config";
import { AUTH_CONF_KEY, storeLabels, storeSelector, ValkeyStore } from "./valkey";

/** Name of the Secret holding the store's URL and password for its clients. */
export const CREDENTIALS_SECRET = `${STORE_NAME}-credentials`;

/** Length of a generated store password (letters and digits: valid as an ElastiCache AUTH token and in a Valkey config line). */
export const PASSWORD_LENGTH = 40;

export interface StoreArgs {
    /** Which store, and its size (validated `kubeforge:store`). */
    settings: StoreSettings;
    /** Namespace of the credentials Secret (and of the in-cluster store): the services'. */
    namespace: pulumi.Input<string>;
    /** Stack name; part of the `app.kubernetes.io/instance` labels. */
    stack: string;
    /** The services allowed to reach the store (those with `store: true`); at least one. */
    clients: string[];
    /** The cluster: its managed store, where the kind is `elasticache`; the CI preview principal's read access to the credentials Secret, where it has one. */
    cluster: Pick<KubeCluster, "flavour" | "managedStore" | "grantPreviewRead">;
}

/** The NetworkPolicy egress rule that reaches a store at these IPv4 CIDRs on `port` (TCP), and nothing else. */
export function cidrEgress(cidrs: readonly pulumi.Input<string>[], port: number): k8s.types.input.networking.v1.NetworkPolicyEgressRule {
    return { to: cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port }] };
}

/** The store and what its clients need to reach it. */
export class Store extends pulumi.ComponentResource implements StoreAccess {
    /** Which store this is. */
    readonly kind: StoreKind;
    /** Name of the credentials Secret (`url`, `password`). */
    readonly credentialsSecret: pulumi.Output<string>;
    /** The NetworkPolicy egress rule that reaches the store, for its clients. */
    readonly egress: k8s.types.input.networking.v1.NetworkPolicyEgressRule;
    /** The store's URL without credentials (a secret for an external store, whose URL may carry a password). */
    readonly url: pulumi.Output<string>;

    constructor(name: string, args: StoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:store:Store", name, {}, opts);
        const { settings } = args;
        if (args.clients.length === 0) throw new Error(`${name}: a store needs at least one client (a service with store: true)`);
        const managedStore = args.cluster.managedStore?.bind(args.cluster);
        if (settings.kind === "elasticache" && !managedStore) throw new Error(`${name}: the ${args.cluster.flavour} cluster offers no managed store`);
        const child = { parent: this, dependsOn: opts?.dependsOn };
        this.kind = settings.kind;

        const password = settings.kind === "external"
            ? pulumi.secret("")
            : pulumi.secret(new random.RandomPassword(`${name}-password`, { length: PASSWORD_LENGTH, special: false }, { parent: this }).result);
        const metadata = { name: CREDENTIALS_SECRET, namespace: args.namespace, labels: storeLabels(args.stack) };
        const credentials = (url: pulumi.Input<string>, extra: Record<string, pulumi.Input<string>> = {}) =>
            new k8s.core.v1.Secret(`${name}-credentials`, { metadata, type: "Opaque", stringData: pulumi.secret(pulumi.output({ url, password, ...extra })) }, child);

        let endpoint: StoreEndpoint;
        let secret: k8s.core.v1.Secret;
        switch (settings.kind) {
            case "incluster": {
                const url = pulumi.interpolate`redis://${STORE_NAME}.${args.namespace}.svc.cluster.local:${STORE_PORT}`;
                secret = credentials(url, { [AUTH_CONF_KEY]: pulumi.interpolate`requirepass ${password}\n` });
                new ValkeyStore(`${name}-valkey`, {
                    settings,
                    namespace: args.namespace,
                    stack: args.stack,
                    credentialsSecret: secret.metadata.name,
                    clients: args.clients.map((client) => selectorLabels(client, args.stack)),
                }, child);
                endpoint = { url, egress: { to: [{ podSelector: { matchLabels: storeSelector(args.stack) } }], ports: [{ protocol: "TCP", port: STORE_PORT }] } };
                break;
            }
            case "elasticache": {
                const { nodeType, nodes, engineVersion, snapshotRetentionDays } = settings;
                endpoint = managedStore!(`${name}-elasticache`, { nodeType, nodes, engineVersion, snapshotRetentionDays, password }, { parent: this });
                secret = credentials(endpoint.url);
                break;
            }
            case "external":
                endpoint = { url: pulumi.secret(settings.url), egress: cidrEgress(settings.cidrs, settings.port) };
                secret = credentials(endpoint.url);
                break;
        }

        // The drift check's refresh reads the Secret back, as the view-only preview principal.
        args.cluster.grantPreviewRead?.(`${name}-preview`, { namespace: args.namespace, secrets: [CREDENTIALS_SECRET] }, { parent: this });

        this.credentialsSecret = secret.metadata.name;
        this.egress = endpoint.egress;
        this.url = endpoint.url;
        this.registerOutputs({ kind: this.kind, credentialsSecret: this.credentialsSecret });
    }
}
