/**
 * What a registry held under an image tag when the stack first asked for that tag.
 *
 * Tags are content hashes (components/image.ts), so a tag that is already in the registry names
 * the image this build would make, and must not be pushed again: Docker builds are not
 * bit-for-bit reproducible, so a push would move the tag to a new digest (a local registry
 * accepts that), and a repository with immutable tags refuses any push of an existing tag, even
 * of the same digest (ECR's `ImageTagAlreadyExistsException`, aws/containers-roadmap#2179). That
 * happens whenever a stack goes back to earlier sources, e.g. after `git revert`.
 *
 * `RegistryTag` asks the registry once per tag (on create, and on update when the tag changes)
 * and keeps the answer in the stack's state, so the next run does not find the stack's own push
 * and flip its mind. It is a Pulumi dynamic resource: the lookup runs during `pulumi up` (not
 * `preview`), in the dynamic provider's process, with only `fetch` and the functions of this file.
 */
import * as pulumi from "@pulumi/pulumi";
import type { RegistryCredentials } from "./cluster/types";

/** Media types a manifest of a pushed image can have (Docker v2 and OCI, single image or index). */
export const MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/** The registry's answer: the digest the tag names, `""` when the tag is not there, or why it cannot tell. */
export type TagLookup = { digest: string } | { unknown: string };

/** Registry host, repository path and tag of `host[:port]/path:tag` (Docker Hub when the first part is no host). */
export function parseImageName(image: string): { host: string; path: string; tag: string } {
    const at = image.lastIndexOf(":");
    if (at < 0 || image.slice(at).includes("/")) throw new Error(`${image} has no tag`);
    const name = image.slice(0, at);
    const tag = image.slice(at + 1);
    const [first, ...rest] = name.split("/");
    // distribution/reference: the first part is a host when it has a dot or a port, or is localhost.
    if (rest.length > 0 && first !== undefined && (first.includes(".") || first.includes(":") || first === "localhost")) {
        return { host: first, path: rest.join("/"), tag };
    }
    return { host: "registry-1.docker.io", path: rest.length > 0 ? name : `library/${name}`, tag };
}

/** Docker talks plain HTTP to a registry on the loopback interface, HTTPS to every other. */
export function registryScheme(host: string): "http" | "https" {
    const name = host.replace(/:[0-9]+$/, "").replace(/^\[|\]$/g, "");
    return name === "localhost" || name === "::1" || /^127\./.test(name) ? "http" : "https";
}

/** The scheme of a `WWW-Authenticate: <scheme> realm="...",...` challenge, lower-case (`""` when there is none). */
export function challengeScheme(header: string): string {
    return /^\s*(\w*)/.exec(header)![1]!.toLowerCase();
}

/**
 * Ask a registry which digest `image` (`host/path:tag`) names, the way Docker's own clients do
 * (kreuzwerker/terraform-provider-docker v3.9.0 internal/provider/data_source_docker_registry_image.go
 * getImageDigest): `HEAD /v2/<path>/manifests/<tag>`, the digest in `Docker-Content-Digest`,
 * `404` when the tag is not there; on `401` with a Basic challenge (what ECR sends), again with
 * the credentials. A registry that wants credentials the caller does not have (a Basic challenge
 * without them; a Bearer token service, as Docker Hub and GHCR have) cannot tell: the caller then
 * pushes as before. Connection errors are retried `attempts` times, `delayMs` apart (a registry
 * container that just started), then thrown.
 */
export async function lookupTag(image: string, credentials?: Pick<RegistryCredentials, "username" | "password">, attempts = 20, delayMs = 500): Promise<TagLookup> {
    const { host, path, tag } = parseImageName(image);
    const url = `${registryScheme(host)}://${host}/v2/${path}/manifests/${encodeURIComponent(tag)}`;
    const head = async (authorization?: string): Promise<Response> => {
        for (let attempt = 1; ; attempt++) {
            try {
                return await fetch(url, { method: "HEAD", headers: { Accept: MANIFEST_TYPES.join(", "), ...(authorization ? { Authorization: authorization } : {}) } });
            } catch (err) {
                if (attempt >= attempts) throw new Error(`cannot reach the registry at ${url} to see whether ${image} is there: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
                await new Promise((done) => setTimeout(done, delayMs));
            }
        }
    };
    let res = await head();
    if (res.status === 401) {
        const scheme = challengeScheme(res.headers.get("www-authenticate") ?? "");
        if (scheme !== "basic" || credentials === undefined) return { unknown: `${host} wants ${scheme === "basic" ? "credentials" : `a ${scheme || "token"} login`} to read ${path}` };
        res = await head(`Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`);
    }
    if (res.status === 404) return { digest: "" };
    const digest = res.headers.get("docker-content-digest");
    if (res.status !== 200 || digest === null) throw new Error(`the registry answered HTTP ${res.status} for ${image}${digest === null && res.status === 200 ? " without a Docker-Content-Digest header" : ""}`);
    return { digest };
}

/** Inputs of a {@link RegistryTag} as the dynamic provider sees them. */
interface RegistryTagState {
    image: string;
    credentials?: RegistryCredentials;
    digest?: string;
}

async function ask(inputs: RegistryTagState): Promise<{ image: string; digest: string }> {
    const answer = await lookupTag(inputs.image, inputs.credentials);
    // A registry that cannot tell gets the push it always got.
    return { image: inputs.image, digest: "digest" in answer ? answer.digest : "" };
}

/** The dynamic provider: asks on create and when the tag changes; new credentials alone change nothing. */
export const registryTagProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: RegistryTagState) {
        return { id: inputs.image, outs: await ask(inputs) };
    },
    async diff(_id: string, olds: RegistryTagState, news: RegistryTagState) {
        return { changes: olds.image !== news.image };
    },
    async update(_id: string, _olds: RegistryTagState, news: RegistryTagState) {
        return { outs: await ask(news) };
    },
};

export interface RegistryTagArgs {
    /** `repository:tag` to look up. */
    image: pulumi.Input<string>;
    /** Credentials to read the registry with; none: anonymous (a registry that wants some then cannot tell). */
    credentials?: pulumi.Input<RegistryCredentials>;
}

/** What the registry held under a tag when the stack first asked for it. */
export class RegistryTag extends pulumi.dynamic.Resource {
    /** The digest the tag named then, or `""` when it was not in the registry (or the registry could not tell). */
    declare readonly digest: pulumi.Output<string>;

    constructor(name: string, args: RegistryTagArgs, opts?: pulumi.CustomResourceOptions) {
        super(registryTagProvider, name, { image: args.image, credentials: args.credentials && pulumi.secret(args.credentials), digest: undefined }, opts);
    }
}
