/**
 * Waiting for the admin access entry to work before anything talks to the cluster. EKS applies
 * access entries and their access policies after a delay; a Kubernetes call before that gets 401
 * (or 403), and the Kubernetes provider neither waits nor retries (see admin-access-check.mjs).
 * terraform-aws-eks v21.19.0 only orders its outputs after the entries (outputs.tf `depends_on`);
 * pulumi-eks v4.3.0 keeps the creator's bootstrap admin and polls `/healthz` unauthenticated
 * (cluster.ts): neither waits for an access entry. kubeforge has no bootstrap admin, so it polls
 * an authorized request until it is allowed, bounded.
 */
import * as command from "@pulumi/command";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

/** The poll, a Node.js ES module run with `node --input-type=module -e` (see the file for its settings). */
export const ADMIN_ACCESS_CHECK_FILE = path.join(__dirname, "admin-access-check.mjs");

/** Longest wait for the admin access entry, in seconds: past it `pulumi up` fails with one line. */
export const ADMIN_ACCESS_WAIT_SECONDS = 600;

export interface AdminAccessCheckArgs {
    /** EKS cluster name. */
    clusterName: pulumi.Input<string>;
    /** Region of the cluster (for `aws eks get-token`). */
    region: string;
    /** API server endpoint (https URL). */
    endpoint: pulumi.Input<string>;
    /** Base64 PEM of the cluster's certificate authority. */
    certificateAuthorityData: pulumi.Input<string>;
    /** The admin principal's access policy association; the check runs again when it is replaced. */
    association: pulumi.Resource & { id: pulumi.Output<string> };
}

/**
 * A local.Command that, during `pulumi up` (never in previews), runs the poll with the caller's
 * AWS credentials, as the kubeconfig does. Whatever depends on it starts only once the admin can
 * use the API; its options' `dependsOn` should include the association.
 */
export function adminAccessCheck(name: string, args: AdminAccessCheckArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    return new command.local.Command(
        name,
        {
            interpreter: ["node", "--input-type=module", "-e"],
            create: fs.readFileSync(ADMIN_ACCESS_CHECK_FILE, "utf8"),
            environment: {
                CLUSTER: args.clusterName,
                REGION: args.region,
                ENDPOINT: args.endpoint,
                CA_DATA: args.certificateAuthorityData,
                WAIT_SECONDS: String(ADMIN_ACCESS_WAIT_SECONDS),
            },
            triggers: [args.association.id],
        },
        opts,
    );
}
