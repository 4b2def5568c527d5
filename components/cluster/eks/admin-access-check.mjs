// Waits until the EKS cluster's admin access entry works: the cluster's API must accept a token of
// the caller's AWS credentials (`aws eks get-token`, as the kubeconfig does) and answer a
// SelfSubjectAccessReview for what the Helm releases do first (create Secrets in kube-system) with
// allowed: true. Until the access entry is in effect the API answers 401; until its access policy
// is, allowed is false. The Kubernetes provider retries neither (pulumi-kubernetes v4.32.0, the
// newest tag readable offline; kubeforge runs 4.34.2: provider.go marks the cluster unreachable
// for the whole run when discovery fails at configure time, await.go retries a create only on
// NotFound and NoMatch), so its first call must not come earlier.
//
// Run by a local.Command with `node --input-type=module -e <this file>` during `pulumi up`.
// Settings come from the environment: CLUSTER, REGION, ENDPOINT (https URL), CA_DATA (base64
// PEM), WAIT_SECONDS (default 600) and INTERVAL_SECONDS (default 5). Exits 0 once allowed, 1 with
// one line on stderr when the time is up.
import { execFileSync } from "node:child_process";
import { request } from "node:https";

const { CLUSTER = "", REGION = "", ENDPOINT = "", CA_DATA = "" } = process.env;
const waitSeconds = Number(process.env.WAIT_SECONDS ?? 600);
const intervalSeconds = Number(process.env.INTERVAL_SECONDS ?? 5);

const review = JSON.stringify({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: { resourceAttributes: { namespace: "kube-system", verb: "create", group: "", resource: "secrets" } },
});

function token() {
    const out = execFileSync("aws", ["eks", "get-token", "--cluster-name", CLUSTER, "--region", REGION, "--output", "json"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return JSON.parse(out).status.token;
}

function ask(bearer) {
    return new Promise((resolve, reject) => {
        const req = request(
            new URL("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", ENDPOINT),
            {
                method: "POST",
                ca: Buffer.from(CA_DATA, "base64"),
                headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", accept: "application/json" },
                timeout: 10_000,
            },
            (res) => {
                let body = "";
                res.setEncoding("utf8");
                res.on("data", (chunk) => (body += chunk));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            },
        );
        req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
        req.on("error", reject);
        req.end(review);
    });
}

const deadline = Date.now() + waitSeconds * 1000;
let last = "no attempt";
for (let attempt = 1; ; attempt++) {
    try {
        const { status, body } = await ask(token());
        if (status === 201 && JSON.parse(body).status?.allowed === true) {
            console.log(`EKS cluster ${CLUSTER}: the admin access entry works (attempt ${attempt})`);
            process.exit(0);
        }
        last = status === 201 ? "authenticated, not yet allowed to create Secrets in kube-system" : `HTTP ${status}`;
    } catch (e) {
        last = e instanceof Error ? e.message.split("\n")[0] : String(e);
    }
    if (Date.now() + intervalSeconds * 1000 > deadline) break;
    await new Promise((done) => setTimeout(done, intervalSeconds * 1000));
}
console.error(`EKS cluster ${CLUSTER}: the admin access entry did not take effect within ${waitSeconds} s (last answer: ${last}); check that pulumi runs as kubeforge:cluster.eks.adminPrincipalArn, then run pulumi up again`);
process.exit(1);
