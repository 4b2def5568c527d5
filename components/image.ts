/**
 * Build a service's image and push it to the cluster's registry.
 *
 * The tag is a hash of the build inputs (the context as `.dockerignore` filters it, the
 * Dockerfile, build args and target), so an unchanged service keeps its tag and digest and is
 * not rolled out, a code change gets a new tag (which immutable-tag registries such as ECR
 * accept), and the Deployment runs the pushed digest.
 */
import dockerignore from "@balena/dockerignore";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import type { ImageRegistry, KubeCluster } from "./cluster";
import type { BuildSettings, ServiceSettings } from "./config";

export interface ServiceImageArgs {
    /** Service name; the image repository is the registry's repository for it. */
    service: string;
    /** What to build: context and Dockerfile relative to `root`, build args, target. */
    build: BuildSettings;
    /** Registry to push to. */
    registry: ImageRegistry;
    /** Directory `build` paths are relative to. Default: the working directory (the project root under `pulumi`). */
    root?: string;
}

/** Absolute context and Dockerfile paths of a build. */
export function buildPaths(build: BuildSettings, root: string): { context: string; dockerfile: string } {
    const context = resolve(root, build.context);
    const dockerfile = build.dockerfile ? resolve(root, build.dockerfile) : join(context, "Dockerfile");
    return { context, dockerfile };
}

/** Files of a build context that Docker would send, as paths relative to it (sorted, `/`-separated). */
export function contextFiles(context: string): string[] {
    const ignoreFile = join(context, ".dockerignore");
    const patterns = existsSync(ignoreFile) ? readFileSync(ignoreFile, "utf8") : "";
    const ig = dockerignore({ ignorecase: false }).add(patterns);
    // With an exception (`!pattern`), files below an ignored directory can come back: look inside.
    const hasExceptions = /^\s*!/m.test(patterns);
    const out: string[] = [];
    const walk = (dir: string): void => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const abs = join(dir, entry.name);
            const rel = relative(context, abs).split(sep).join("/");
            if (entry.isDirectory()) {
                if (!ig.ignores(rel) || hasExceptions) walk(abs);
            } else if (entry.isFile() && !ig.ignores(rel)) {
                out.push(rel);
            }
        }
    };
    walk(context);
    return out.sort();
}

/** Content hash of everything a build depends on; the first 16 hex digits tag the image. */
export function buildHash(build: BuildSettings, root: string): string {
    const { context, dockerfile } = buildPaths(build, root);
    const h = createHash("sha256");
    for (const file of contextFiles(context)) {
        h.update(file).update("\0").update(readFileSync(join(context, file))).update("\0");
    }
    h.update("dockerfile\0").update(readFileSync(dockerfile));
    h.update(JSON.stringify({ args: Object.entries(build.args).sort(), target: build.target ?? null }));
    return h.digest("hex").slice(0, 16);
}

/** A service image, built from source and pushed; {@link ref} is the digest reference to deploy. */
export class ServiceImage extends pulumi.ComponentResource {
    /** `repository@sha256:...` as pushed: the Deployment runs exactly this. */
    readonly ref: pulumi.Output<string>;
    /** The content-addressed tag pushed. */
    readonly tag: string;

    constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:image:ServiceImage", name, {}, opts);
        const root = args.root ?? process.cwd();
        const { context, dockerfile } = buildPaths(args.build, root);
        const key = `kubeforge:services.${args.service}.build`;
        if (!existsSync(context) || !statSync(context).isDirectory()) {
            throw new pulumi.RunError(`${key}.context: "${args.build.context}" is not a directory (resolved to ${context})`);
        }
        if (!existsSync(dockerfile)) {
            throw new pulumi.RunError(`${key}.dockerfile: "${args.build.dockerfile ?? `${args.build.context}/Dockerfile`}" does not exist (resolved to ${dockerfile})`);
        }

        this.tag = buildHash(args.build, root);
        const repository = args.registry.repository(args.service);
        const image = new docker.Image(`${name}-image`, {
            imageName: pulumi.interpolate`${repository}:${this.tag}`,
            build: {
                context,
                dockerfile,
                args: args.build.args,
                target: args.build.target,
                platform: args.registry.platform,
            },
            registry: args.registry.credentials,
        }, { parent: this });
        this.ref = image.repoDigest;
        this.registerOutputs({ ref: this.ref, tag: this.tag });
    }
}

/**
 * The image reference a service's Deployment runs: its pinned `image`, or the digest of a
 * {@link ServiceImage} built from `build` and pushed to the cluster's registry.
 */
export function serviceImage(service: ServiceSettings, cluster: Pick<KubeCluster, "flavour" | "registry">, opts?: pulumi.ComponentResourceOptions): pulumi.Output<string> {
    if (service.image !== undefined) return pulumi.output(service.image);
    if (service.build === undefined) throw new pulumi.RunError(`kubeforge:services.${service.name}.image: is missing; give either image or build`);
    if (cluster.registry === undefined) {
        throw new pulumi.RunError(`kubeforge:services.${service.name}.build: the ${cluster.flavour} cluster has no image registry to push to; set kubeforge:cluster.registry or give services.${service.name}.image (a pinned reference)`);
    }
    return new ServiceImage(service.name, { service: service.name, build: service.build, registry: cluster.registry }, opts).ref;
}
