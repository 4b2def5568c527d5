import { describe, expect, it } from "vitest";
import { runStack } from "./harness";

/** The stack's config, switched to the existing flavour (`null` drops a key). */
const existing = (cluster: Record<string, unknown>) => ({ "kubeforge:cluster": { flavour: "existing", kind: null, eks: null, ...cluster } });

describe("cluster flavour existing", () => {
    it("targets the named kubeconfig context and pushes built images to the configured registry", async () => {
        const p = await runStack("dev", existing({ context: "team-cluster", registry: "ghcr.io/acme" }));
        const [provider] = p.ofType("pulumi:providers:kubernetes");
        expect(provider?.inputs.context).toBe("team-cluster");
        // Every Kubernetes object goes through that provider.
        for (const r of p.resources.filter((x) => x.type.startsWith("kubernetes:"))) {
            expect(r.options.provider).toContain(`::${provider!.name}::`);
        }
        const images = p.ofType("docker:index/image:Image").map((r) => String(r.inputs.imageName));
        expect(images).toHaveLength(3);
        for (const image of images) expect(image).toMatch(/^ghcr\.io\/acme\/(backend|messages|reports):[0-9a-f]{16}$/);
    });

    it("refuses to build without a registry, naming the keys to set", async () => {
        await expect(runStack("dev", existing({ registry: null }))).rejects.toThrow(
            "kubeforge:services.backend.build: the existing cluster has no image registry to push to; set kubeforge:cluster.registry or give services.backend.image (a pinned reference)",
        );
    });
});
