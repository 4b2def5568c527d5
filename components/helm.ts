/**
 * How every Helm release of the program is installed and upgraded.
 */
import type * as k8s from "@pulumi/kubernetes";

/**
 * Install and upgrade options of every Helm release (metrics-server, the Cluster Autoscaler, the
 * AWS Load Balancer Controller): `atomic` waits for the release's resources and rolls a failed
 * upgrade back (a failed first install is purged, so the next `pulumi up` installs afresh instead
 * of finding a release in state `failed`); `cleanupOnFail` deletes what a failed upgrade created;
 * `timeout` bounds the wait, in seconds.
 */
export const HELM_RELEASE_OPTIONS: Readonly<Required<Pick<k8s.helm.v3.ReleaseArgs, "atomic" | "cleanupOnFail" | "timeout">>> = {
    atomic: true,
    cleanupOnFail: true,
    timeout: 600,
};
