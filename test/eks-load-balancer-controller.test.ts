/**
 * What kubeforge relies on from the AWS Load Balancer Controller it pins (chart 3.5.0, controller
 * v3.5.0), checked against data read from those releases
 * (test/fixtures/aws-load-balancer-controller/v3.5.0.json, origin in the file): the annotations
 * it sets are ones the controller parses, its Services carry the class the controller reconciles,
 * and none of the chart's admission webhooks can fail an object kubeforge creates while the
 * controller is not yet running (aws-load-balancer-controller#4140: "no endpoints available for
 * service aws-load-balancer-webhook-service" on a first install).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { LOAD_BALANCER_CLASS, LOAD_BALANCER_CONTROLLER_CHART, loadBalancerControllerValues } from "../components/cluster/eks/controllers";
import { nlbAnnotations, READINESS_GATE_LABEL } from "../components/cluster/eks/eks";
import { type LabelSelector, selects } from "../policy/lib/kubernetes";
import { type Program, runStack } from "./harness";

interface Webhook {
    name: string;
    resource: "pods" | "services";
    renderedIf?: { value: string; default: boolean };
    failurePolicy: { fixed: "Fail" | "Ignore" } | { value: string; default: "Fail" | "Ignore" };
    namespaceSelector: { valueOverride?: string; default: LabelSelector };
    objectSelector: LabelSelector;
}
interface Fixture {
    chart: { version: string; appVersion: string; admissionWebhooks: { webhooks: Webhook[] } };
    controller: {
        tag: string;
        serviceAnnotationPrefix: string;
        serviceAnnotationSuffixes: { names: string[] };
        defaultLoadBalancerClass: { value: string };
        documentedValues: Record<string, { values: string[] } | string>;
        readinessGateNamespaceLabel: { key: string; value: string };
    };
}
const fixture = JSON.parse(readFileSync(join(__dirname, "fixtures", "aws-load-balancer-controller", "v3.5.0.json"), "utf8")) as Fixture;

/** A Helm value by dotted path (`serviceMutatorWebhookConfig.failurePolicy`), or undefined. */
function valueAt(values: Record<string, unknown>, path: string): unknown {
    return path.split(".").reduce<unknown>((v, key) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined), values);
}

/** The webhooks the chart renders with `values`, each with the failure policy and selectors they render to (templates/webhook.yaml). */
function renderedWebhooks(values: Record<string, unknown>): { name: string; resource: string; failurePolicy: string; namespaceSelector: LabelSelector; objectSelector: LabelSelector }[] {
    return fixture.chart.admissionWebhooks.webhooks
        .filter((w) => w.renderedIf === undefined || ((valueAt(values, w.renderedIf.value) as boolean | undefined) ?? w.renderedIf.default))
        .map((w) => ({
            name: w.name,
            resource: w.resource,
            failurePolicy: "fixed" in w.failurePolicy ? w.failurePolicy.fixed : ((valueAt(values, w.failurePolicy.value) as string | undefined) ?? w.failurePolicy.default),
            namespaceSelector: (w.namespaceSelector.valueOverride ? (valueAt(values, w.namespaceSelector.valueOverride) as LabelSelector | undefined) : undefined) ?? w.namespaceSelector.default,
            objectSelector: w.objectSelector,
        }));
}

describe("the AWS Load Balancer Controller kubeforge pins (chart 3.5.0, controller v3.5.0)", () => {
    let program: Program;
    beforeAll(async () => {
        program = await runStack("prod");
    });

    it("pins the chart the fixture was read from, which runs the controller the IAM policy is for", () => {
        expect(LOAD_BALANCER_CONTROLLER_CHART).toEqual({ chart: "aws-load-balancer-controller", repo: "https://aws.github.io/eks-charts", version: fixture.chart.version });
        expect(fixture.chart.appVersion).toBe(fixture.controller.tag);
    });

    it("sets only annotations the controller parses at v3.5.0, with documented values", () => {
        const cert = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab";
        const all = { ...nlbAnnotations("public", "/readyz", ["subnet-1", "subnet-2"], cert), ...nlbAnnotations("internal", "/readyz", ["subnet-3"]) };
        const prefix = `${fixture.controller.serviceAnnotationPrefix}/`;
        for (const key of Object.keys(all)) {
            expect(key.startsWith(prefix), key).toBe(true);
            expect(fixture.controller.serviceAnnotationSuffixes.names, key).toContain(key.slice(prefix.length));
        }
        for (const scope of ["public", "internal"] as const) {
            const annotations = nlbAnnotations(scope, "/readyz", ["subnet-1"]);
            for (const [suffix, documented] of Object.entries(fixture.controller.documentedValues)) {
                if (typeof documented === "string") continue;
                expect(documented.values, `${scope} ${suffix}`).toContain(annotations[`${prefix}${suffix}`]);
            }
        }
    });

    it("gives every LoadBalancer Service the class the controller reconciles, so nothing needs its Service webhook", () => {
        expect(LOAD_BALANCER_CLASS).toBe(fixture.controller.defaultLoadBalancerClass.value);
        const lbServices = program.k8s("Service").filter((s) => s.spec?.type === "LoadBalancer");
        expect(lbServices).toHaveLength(3);
        for (const s of lbServices) expect(s.spec?.loadBalancerClass, s.metadata?.name).toBe(LOAD_BALANCER_CLASS);
    });

    it("labels the services' namespace with the label the pod webhook selects, so rolled-out pods wait for their NLB targets", () => {
        const { key, value } = fixture.controller.readinessGateNamespaceLabel;
        expect(READINESS_GATE_LABEL).toEqual({ [key]: value });
        const mpod = renderedWebhooks(loadBalancerControllerValues("c", "eu-west-1", "vpc-1")).find((w) => w.name === "mpod.elbv2.k8s.aws");
        expect(selects(mpod?.namespaceSelector ?? {}, program.k8s("Namespace")[0]?.metadata?.labels ?? {})).toBe(true);
    });

    it("renders no webhook that fails a Pod or Service kubeforge creates while the controller is not running", () => {
        const servicesNamespace = program.k8s("Namespace")[0];
        const namespaces = [
            { name: "kube-system", labels: { "kubernetes.io/metadata.name": "kube-system" } },
            { name: String(servicesNamespace?.metadata?.name), labels: { ...servicesNamespace?.metadata?.labels, "kubernetes.io/metadata.name": String(servicesNamespace?.metadata?.name) } },
        ];
        // The services' pods and Services, and the Helm charts' objects in kube-system (the autoscaler's
        // and metrics-server's Services and pods), which carry none of the controller's opt-in labels.
        const objects = [
            ...program.k8s("Deployment").map((d) => ({ what: `pod of ${d.metadata?.name}`, resource: "pods", namespace: String(d.metadata?.namespace), labels: (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels })),
            ...program.k8s("Service").map((s) => ({ what: `Service ${s.metadata?.name}`, resource: "services", namespace: String(s.metadata?.namespace), labels: s.metadata?.labels ?? {} })),
            ...["pods", "services"].flatMap((resource) => ["cluster-autoscaler", "metrics-server"].map((chart) => ({ what: `${chart} ${resource}`, resource, namespace: "kube-system", labels: { "app.kubernetes.io/name": chart } }))),
        ];
        const failing = (values: Record<string, unknown>) =>
            renderedWebhooks(values)
                .filter((w) => w.failurePolicy === "Fail")
                .flatMap((w) =>
                    objects
                        .filter((o) => o.resource === w.resource && selects(w.objectSelector, o.labels) && selects(w.namespaceSelector, namespaces.find((n) => n.name === o.namespace)?.labels ?? {}))
                        .map((o) => `${w.name}: ${o.what}`),
                );
        expect(failing(loadBalancerControllerValues("c", "eu-west-1", "vpc-1"))).toEqual([]);
        // With the chart's defaults the Service webhook would fail every Service create, the Helm charts' included.
        expect(failing({})).toEqual(objects.filter((o) => o.resource === "services").map((o) => `mservice.elbv2.k8s.aws: ${o.what}`));
    });
});
