import type { ResourceValidationPolicy } from "@pulumi/policy";
import { containersOf } from "../lib/kubernetes";
import { validateWorkload } from "../lib/policy";

/**
 * Why an image reference is not pinned, or undefined when it is: pinned means a digest
 * (`@sha256:...`), or a tag other than `latest`.
 */
export function unpinnedReason(image: string): string | undefined {
    if (image.trim() === "") return "has an empty image";
    if (/@sha256:[a-f0-9]{64}$/.test(image)) return undefined;
    const lastPart = image.slice(image.lastIndexOf("/") + 1);
    const colon = lastPart.lastIndexOf(":");
    if (colon < 0) return `runs image "${image}" without a tag (Kubernetes pulls :latest)`;
    if (lastPart.slice(colon + 1) === "latest") return `runs image "${image}" with the mutable tag :latest`;
    return undefined;
}

/** Every container runs a pinned image: a version tag or a digest, never `:latest` or no tag. */
export const pinnedImage: ResourceValidationPolicy = {
    name: "k8s-pinned-image",
    description: "Containers run an image pinned by a version tag or a digest, never :latest or an untagged image.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: validateWorkload((spec, label, report) => {
        for (const { label: container, container: c } of containersOf(spec)) {
            // An undefined image is a value the policy cannot judge (e.g. a build output).
            if (c.image === undefined) continue;
            const reason = unpinnedReason(c.image);
            if (reason) report(`${label} ${container} ${reason}; pin a version tag or an @sha256 digest.`);
        }
    }),
};
