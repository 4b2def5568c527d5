/**
 * The in-cluster store: one Valkey server in a StatefulSet, its data on a PersistentVolumeClaim
 * of the cluster's default StorageClass (append-only file, fsync every second), a password from
 * the store's credentials Secret, the restricted security context, probes, resources, and a
 * NetworkPolicy that admits the store's clients (the services with `store: true`) and nothing
 * else, in or out.
 *
 * Image facts this relies on (valkey-io/valkey-container, `9.0/alpine/Dockerfile` and
 * `docker-entrypoint.sh`): the image runs `valkey-server` as user `valkey`, UID 999 and GID 1000
 * (alpine's `adduser -S -G valkey -u 999 valkey` after `addgroup -S -g 1000 valkey`); its data
 * directory and working directory is `/data`; the entrypoint turns a first argument ending in
 * `.conf` into `valkey-server <file>`, and started as a non-root user it runs the server directly.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { memoryBytes } from "../formats";
import { recommendedLabels, selectorLabels } from "../microservice";
import { STORE_NAME, STORE_PORT, type StoreSettings } from "./config";

/**
 * The official Valkey image (Docker Hub `valkey/valkey`, built from valkey-io/valkey-container),
 * pinned by tag and digest. The digest is the one public projects record for this tag (it could
 * not be looked up from the registry here); `pulumi up` pulls by digest, so a wrong one fails the
 * rollout instead of running another image.
 */
export const VALKEY_IMAGE = "valkey/valkey:9.0.6-alpine3.24@sha256:187679e3bd4036959631e3f03983ab2ba503ab21e6fd0454d508e909db2ee989";

/** UID of the image's `valkey` user. */
export const VALKEY_UID = 999;
/** GID of the image's `valkey` group. */
export const VALKEY_GID = 1000;

/** Share of the memory limit Valkey may fill with data (`maxmemory`): the rest is for the server itself and the fork of a rewrite. */
export const MAXMEMORY_SHARE = 0.75;

/** Where the server's config and the password file are mounted. */
const CONFIG_DIR = "/etc/valkey/conf";
const AUTH_DIR = "/etc/valkey/auth";

/** The Secret key holding the server's `requirepass` line. */
export const AUTH_CONF_KEY = "auth.conf";

/** Labels of the store's objects: a service's, with component `store`. */
export function storeLabels(stack: string): Record<string, string> {
    return recommendedLabels(STORE_NAME, stack, "store");
}

/** The stable labels that select the store's pod. */
export function storeSelector(stack: string): Record<string, string> {
    return selectorLabels(STORE_NAME, stack);
}

/** `maxmemory` for a memory limit, in Valkey's `mb` (MiB): {@link MAXMEMORY_SHARE} of it. */
export function maxmemory(limit: string): string {
    return `${Math.floor((memoryBytes(limit) * MAXMEMORY_SHARE) / 2 ** 20)}mb`;
}

/**
 * The server's config file. Data: an append-only file in /data, fsync'd every second (at most a
 * second of writes lost in a crash), no RDB snapshots besides. Memory: `maxmemory` with
 * `noeviction`, so a full store refuses writes (clients answer 503) instead of silently dropping
 * topics. The password comes from a file of the credentials Secret (`include`).
 */
export function valkeyConfig(memoryLimit: string): string {
    return [
        "# valkey.conf of the kubeforge store (components/store/valkey.ts)",
        `port ${STORE_PORT}`,
        "dir /data",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        `maxmemory ${maxmemory(memoryLimit)}`,
        "maxmemory-policy noeviction",
        `include ${AUTH_DIR}/${AUTH_CONF_KEY}`,
        "",
    ].join("\n");
}

export interface ValkeyStoreArgs {
    /** The in-cluster store's settings (volume size, resources). */
    settings: Extract<StoreSettings, { kind: "incluster" }>;
    /** Namespace of the store's objects (the services'). */
    namespace: pulumi.Input<string>;
    /** Stack name; part of the `app.kubernetes.io/instance` label. */
    stack: string;
    /** Name of the Secret holding the password (`password`) and the server's `requirepass` line ({@link AUTH_CONF_KEY}). */
    credentialsSecret: pulumi.Input<string>;
    /** Pod labels of the store's clients, each allowed in on the store's port; no one else is. */
    clients: Record<string, string>[];
}

/** Valkey in the cluster, reachable only from its clients. */
export class ValkeyStore extends pulumi.ComponentResource {
    /** The in-cluster Service `store` (ClusterIP, on the store's port) the clients dial. */
    readonly service: k8s.core.v1.Service;
    /** The StatefulSet. */
    readonly statefulSet: k8s.apps.v1.StatefulSet;

    constructor(name: string, args: ValkeyStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:store:ValkeyStore", name, {}, opts);
        if (args.clients.length === 0) throw new Error(`${name}: the store needs at least one client (a service with store: true)`);
        const child = { parent: this, dependsOn: opts?.dependsOn };
        const { settings } = args;
        const labels = storeLabels(args.stack);
        const selector = storeSelector(args.stack);
        const metadata = { name: STORE_NAME, namespace: args.namespace, labels };

        const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata, automountServiceAccountToken: false }, child);
        const conf = valkeyConfig(settings.resources.limits.memory);
        const config = new k8s.core.v1.ConfigMap(`${name}-config`, {
            metadata: { ...metadata, name: `${STORE_NAME}-config` },
            data: { "valkey.conf": conf },
        }, child);

        // On the container port itself: the clients' egress rule to the pod matches what they dial.
        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata,
            spec: { type: "ClusterIP", selector, ports: [{ name: "valkey", port: STORE_PORT, targetPort: "valkey", protocol: "TCP" }] },
        }, child);

        const password = { secretKeyRef: { name: args.credentialsSecret, key: "password" } };
        this.statefulSet = new k8s.apps.v1.StatefulSet(`${name}-statefulset`, {
            metadata,
            spec: {
                serviceName: this.service.metadata.name,
                // One primary: Valkey replicas would need Sentinel to fail over; a restarted pod
                // finds its data on the volume.
                replicas: 1,
                selector: { matchLabels: selector },
                updateStrategy: { type: "RollingUpdate" },
                // The data outlives the StatefulSet: `pulumi destroy` leaves the claim to delete by hand.
                persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
                template: {
                    // A config change rolls the pod (the server reads its file only at start).
                    metadata: { labels, annotations: { "kubeforge.dev/config-hash": createHash("sha256").update(conf).digest("hex").slice(0, 16) } },
                    spec: {
                        serviceAccountName: serviceAccount.metadata.name,
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        securityContext: {
                            runAsNonRoot: true,
                            runAsUser: VALKEY_UID,
                            runAsGroup: VALKEY_GID,
                            // The volume is group-writable for the server; only its root is checked on restarts.
                            fsGroup: VALKEY_GID,
                            fsGroupChangePolicy: "OnRootMismatch",
                            seccompProfile: { type: "RuntimeDefault" },
                        },
                        containers: [{
                            name: "valkey",
                            image: VALKEY_IMAGE,
                            imagePullPolicy: "IfNotPresent",
                            args: [`${CONFIG_DIR}/valkey.conf`],
                            ports: [{ name: "valkey", containerPort: STORE_PORT, protocol: "TCP" }],
                            // For the readiness probe's valkey-cli (8.0 reads REDISCLI_AUTH, later ones VALKEYCLI_AUTH).
                            env: [{ name: "REDISCLI_AUTH", valueFrom: password }, { name: "VALKEYCLI_AUTH", valueFrom: password }],
                            resources: { requests: { ...settings.resources.requests }, limits: { ...settings.resources.limits } },
                            // It listens before it has loaded the append-only file: up to 2 minutes to start.
                            startupProbe: { tcpSocket: { port: "valkey" }, periodSeconds: 2, failureThreshold: 60, timeoutSeconds: 2 },
                            livenessProbe: { tcpSocket: { port: "valkey" }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
                            // Ready when it answers PING (not while loading, and authenticated: a NOAUTH
                            // reply exits 0 too, so the answer itself is checked).
                            readinessProbe: {
                                exec: { command: ["sh", "-c", `valkey-cli -p ${STORE_PORT} ping | grep -q PONG`] },
                                periodSeconds: 5,
                                failureThreshold: 2,
                                successThreshold: 1,
                                timeoutSeconds: 2,
                            },
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                readOnlyRootFilesystem: true,
                                runAsNonRoot: true,
                                capabilities: { drop: ["ALL"] },
                            },
                            volumeMounts: [
                                { name: "data", mountPath: "/data" },
                                { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                                { name: "auth", mountPath: AUTH_DIR, readOnly: true },
                            ],
                        }],
                        volumes: [
                            { name: "config", configMap: { name: config.metadata.name } },
                            // Readable by the valkey group only.
                            { name: "auth", secret: { secretName: args.credentialsSecret, items: [{ key: AUTH_CONF_KEY, path: AUTH_CONF_KEY }], defaultMode: 0o440 } },
                        ],
                    },
                },
                volumeClaimTemplates: [{
                    metadata: { name: "data", labels },
                    // No storageClassName: the cluster's default StorageClass.
                    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: settings.storage } } },
                }],
            },
        }, child);

        new k8s.networking.v1.NetworkPolicy(`${name}-network-policy`, {
            metadata,
            spec: {
                podSelector: { matchLabels: selector },
                policyTypes: ["Ingress", "Egress"],
                ingress: [{
                    from: args.clients.map((matchLabels) => ({ podSelector: { matchLabels } })),
                    ports: [{ protocol: "TCP", port: STORE_PORT }],
                }],
                // The server starts no connection of its own.
                egress: [],
            },
        }, child);

        this.registerOutputs({ service: this.service.metadata.name, statefulSet: this.statefulSet.metadata.name });
    }
}
