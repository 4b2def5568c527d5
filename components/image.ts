/**
 * Build a service's image and push it to the cluster's registry.
 *
 * The tag is a hash of what can change the image: the Dockerfile, build args, target and
 * platform, and the files of the context (as `.dockerignore` filters it) that the Dockerfile's
 * `COPY`/`ADD` instructions and `RUN --mount` binds take, with their modes. The three built-in
 * services share one source context, so a change to one service's code re-tags only that
 * service.
 *
 * The Docker provider does not see the shared source context. @pulumi/docker v4 hashes the
 * whole build context it is given into an input of its own (`build.contextDigest`, in Check,
 * pulumi/pulumi-docker v4.11.2 provider/provider.go), and any changed input is an update that
 * builds and pushes again. So each image is built from a context generated for it,
 * `.kubeforge/<stack>/images/<service>-<tag>/`, holding exactly the files its tag covers with
 * normalised modes: the provider's digest then changes exactly when the tag does, an unchanged
 * service is neither rebuilt nor pushed nor rolled out, and every path the provider gets is
 * relative to the project root (where Pulumi runs the program and the provider), so a checkout
 * in another directory previews no change.
 */
import dockerignore from "@balena/dockerignore";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { type Argument, DockerfileParser, type Flag, type From, type Instruction, type JSONInstruction, type PropertyInstruction } from "dockerfile-ast";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import type { ImageRegistry, KubeCluster } from "./cluster/types";
import type { BuildSettings, ServiceSettings } from "./config";
import { RegistryTag } from "./registry-tag";

export interface ServiceImageArgs {
    /** Service name; the image repository is the registry's repository for it. */
    service: string;
    /** What to build: context and Dockerfile relative to `root`, build args, target. */
    build: BuildSettings;
    /** Registry to push to; its `platform`, else this machine's ({@link defaultPlatform}), is what the image is built for. */
    registry: ImageRegistry;
    /**
     * Project root: `build` paths are relative to it, and the generated build context is written
     * under it. Default: the working directory (the project root under `pulumi`).
     */
    root?: string;
}

/** Absolute context and Dockerfile paths of a build, and the Dockerfile as the provider gets it (relative to the root, unless given absolute). */
export function buildPaths(build: BuildSettings, root: string): { context: string; dockerfile: string; dockerfileInput: string } {
    const context = resolve(root, build.context);
    const given = build.dockerfile ?? posix.join(build.context, "Dockerfile");
    const dockerfile = resolve(root, given);
    return { context, dockerfile, dockerfileInput: isAbsolute(given) ? given : posix.normalize(given.split(sep).join("/")) };
}

/**
 * The ignore file of a build: `<Dockerfile>.dockerignore` if it exists, else the context's
 * `.dockerignore` (Docker's documented precedence, which pulumi/pulumi-docker v4.11.2
 * provider/provider.go getIgnorePatterns follows too).
 */
export function ignoreFile(context: string, dockerfile?: string): string | undefined {
    return [dockerfile && `${dockerfile}.dockerignore`, join(context, ".dockerignore")].find((file): file is string => !!file && existsSync(file));
}

/**
 * Files of a build context that Docker would send, as paths relative to it (sorted,
 * `/`-separated): regular files and symbolic links, filtered by {@link ignoreFile}.
 */
export function contextFiles(context: string, dockerfile?: string): string[] {
    const file = ignoreFile(context, dockerfile);
    const patterns = file ? readFileSync(file, "utf8") : "";
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
            } else if ((entry.isFile() || entry.isSymbolicLink()) && !ig.ignores(rel)) {
                out.push(rel);
            }
        }
    };
    walk(context);
    return out.sort();
}

/** Context paths a Dockerfile reads (`""` is the whole context), or why they cannot be known before the build. */
export type DockerfileSources = { paths: string[] } | { wholeContext: string };

/** Thrown while reading a Dockerfile when a source is not known before the build. */
class Unresolvable extends Error {}

/** Variables in scope at an instruction: the value, or `undefined` when only the build knows it. */
type Scope = Map<string, string | undefined>;

/** The Dockerfile's text by line, to read what the parser's ranges cover. */
interface Text {
    lines: string[];
    escape: string;
}

/**
 * The context paths a Dockerfile's stages read, up to and including `target` (all stages
 * without one): the sources of `COPY` and `ADD` (not `COPY --from`, which reads a stage or an
 * image) and of `RUN --mount=type=bind` without `from`, with `ARG` defaults, build args and
 * `ENV` values substituted as Docker does. Paths are relative to the context; `*` and `?` stay
 * wildcards (Go's `filepath.Match`, as Docker documents for COPY sources).
 *
 * When a source cannot be resolved statically the whole filtered context counts as read (never
 * too little; the tag then changes with any file of the context, as it always did): a variable
 * with no value known before the build (undeclared, declared without a default or build arg,
 * set from another variable or with a `${x:-y}` modifier), quotes or escapes around a source,
 * a URL or Git source in `ADD`, a heredoc, a `[...]`, `**` or `\` pattern, an unknown target.
 */
export function dockerfileSources(content: string, build: Pick<BuildSettings, "args" | "target">): DockerfileSources {
    try {
        return { paths: [...new Set(stageSources(content, build))] };
    } catch (e) {
        if (e instanceof Unresolvable) return { wholeContext: e.message };
        throw e;
    }
}

function stageSources(content: string, { args, target }: Pick<BuildSettings, "args" | "target">): string[] {
    const dockerfile = DockerfileParser.parse(content);
    const text: Text = { lines: content.split(/\r\n|\r|\n/), escape: dockerfile.getEscapeCharacter() };
    // ARGs before the first FROM: the build arg, else the default.
    const globals: Scope = new Map();
    for (const arg of dockerfile.getInitialARGs()) {
        for (const p of arg.getProperties()) globals.set(p.getName(), args[p.getName()] ?? literal(p.getValue(), text));
    }
    const stages: Instruction[][] = [];
    for (const instruction of dockerfile.getInstructions()) {
        if (instruction.getKeyword() === "FROM") stages.push([instruction]);
        else stages.at(-1)?.push(instruction);
    }
    let last = stages.length - 1;
    if (target !== undefined) {
        last = stages.findIndex((stage) => (stage[0] as From).getBuildStage()?.toLowerCase() === target.toLowerCase());
        if (last < 0) throw new Unresolvable(`the target "${target}" is not a stage of the Dockerfile`);
    }
    return stages.slice(0, last + 1).flatMap((stage) => {
        // Each stage starts with no variables (its base image's ENV is unknown here).
        const scope: Scope = new Map();
        const envs = new Set<string>();
        return stage.flatMap((instruction): string[] => {
            switch (instruction.getKeyword()) {
                case "ARG":
                    for (const p of (instruction as PropertyInstruction).getProperties()) {
                        const name = p.getName();
                        // ENV wins over an ARG of the same name; a stage's ARG takes the build arg, else
                        // its own default, else the value of the ARG of that name before the first FROM.
                        if (!envs.has(name)) scope.set(name, args[name] ?? (p.getValue() === null ? globals.get(name) : literal(p.getValue(), text)));
                    }
                    return [];
                case "ENV":
                    for (const p of (instruction as PropertyInstruction).getProperties()) {
                        scope.set(p.getName(), literal(p.getValue(), text));
                        envs.add(p.getName());
                    }
                    return [];
                case "COPY":
                case "ADD":
                    return copySources(instruction as JSONInstruction, scope, text);
                case "RUN":
                    return mountSources(instruction as JSONInstruction);
                default:
                    return [];
            }
        });
    });
}

/** An ARG default or ENV value as written, or `undefined` if it needs expanding (variables, escapes). */
function literal(value: string | null, text: Text): string | undefined {
    return value === null || value.includes("$") || value.includes(text.escape) ? undefined : value;
}

function copySources(instruction: JSONInstruction, scope: Scope, text: Text): string[] {
    const where = `line ${instruction.getRange().start.line + 1}`;
    if (instruction.getFlags().some((flag) => flag.getName() === "from")) return [];
    if (instruction.getArguments().some((arg) => arg.getValue().startsWith("<<"))) {
        throw new Unresolvable(`${where}: ${instruction.getKeyword()} from a heredoc`);
    }
    const json = instruction.getJSONStrings();
    const words = json.length > 0 ? json.map((arg) => jsonWord(arg, text, where)) : shellWords(instruction, scope, text, where);
    return words.slice(0, -1).map((source) => contextPath(source, where));
}

/** The text a single-line range covers, or `undefined` across lines. */
function rawText(arg: Argument, text: Text): string | undefined {
    const { start, end } = arg.getRange();
    return start.line === end.line ? text.lines[start.line]?.slice(start.character, end.character) : undefined;
}

function jsonWord(arg: Argument, text: Text, where: string): string {
    // The parser's JSON value drops spaces inside strings; parse the string as written.
    const raw = rawText(arg, text);
    const word = raw === undefined ? undefined : (JSON.parse(raw) as unknown);
    if (typeof word !== "string" || word.includes("$")) throw new Unresolvable(`${where}: JSON-form argument ${arg.getValue()} is not a plain path`);
    return word;
}

/** Shell-form arguments with their variables substituted. */
function shellWords(instruction: Instruction, scope: Scope, text: Text, where: string): string[] {
    const { start, end } = instruction.getRange();
    // An escape other than a line continuation joins or quotes words (`a\ b`): not resolved here.
    for (const line of text.lines.slice(start.line, end.line + 1)) {
        const trimmed = line.trimEnd();
        if ((trimmed.endsWith(text.escape) ? trimmed.slice(0, -1) : trimmed).includes(text.escape)) {
            throw new Unresolvable(`${where}: escaped characters in ${instruction.getKeyword()}`);
        }
    }
    const variables = instruction.getVariables();
    return instruction.getArguments().map((arg) => {
        const raw = rawText(arg, text);
        if (raw === undefined || raw !== arg.getValue() || raw.includes('"') || raw.includes("'")) {
            throw new Unresolvable(`${where}: quoted or split argument ${arg.getValue()}`);
        }
        const range = arg.getRange();
        const inside = variables
            .filter((v) => v.getRange().start.line === range.start.line && v.getRange().start.character >= range.start.character && v.getRange().end.character <= range.end.character)
            .sort((a, b) => b.getRange().start.character - a.getRange().start.character);
        if (inside.length !== raw.split("$").length - 1) throw new Unresolvable(`${where}: unparsed "$" in ${raw}`);
        let word = raw;
        for (const v of inside) {
            const [from, to] = [v.getRange().start.character - range.start.character, v.getRange().end.character - range.start.character];
            const value = scope.get(v.getName());
            if (v.getModifier() !== null || value === undefined) throw new Unresolvable(`${where}: ${raw.slice(from, to)} has no value known before the build`);
            word = word.slice(0, from) + value + word.slice(to);
        }
        return word;
    });
}

/** Context paths bound by `RUN --mount=type=bind` without `from` (the build context by default). */
function mountSources(instruction: JSONInstruction): string[] {
    const where = `line ${instruction.getRange().start.line + 1}`;
    return instruction.getFlags().filter((flag) => flag.getName() === "mount").flatMap((mount: Flag) => {
        const option = (name: string) => mount.getOption(name)?.getValue() ?? undefined;
        if ((option("type") ?? "bind") !== "bind" || option("from") !== undefined) return [];
        const value = mount.getValue() ?? "";
        if (value.includes("$") || value.includes('"') || value.includes("'")) throw new Unresolvable(`${where}: --mount=${value} is not a plain path`);
        return [contextPath(option("source") ?? option("src") ?? ".", where)];
    });
}

/** A source as a path relative to the context root (which sources cannot leave, even when absolute). */
function contextPath(source: string, where: string): string {
    if (source.includes("://") || source.startsWith("git@")) throw new Unresolvable(`${where}: ${source} is not in the build context`);
    if (source.includes("[") || source.includes("\\") || source.includes("**")) {
        throw new Unresolvable(`${where}: the pattern ${source} is not resolved here (only * and ? are)`);
    }
    return posix.normalize(`/${source}`).replace(/^\/+|\/+$/g, "");
}

/**
 * Whether a source path from {@link dockerfileSources} takes a context file: the file itself or
 * a directory above it matches, segment by segment (`*` and `?` never cross a `/`).
 */
export function sourceMatcher(source: string): (file: string) => boolean {
    if (source === "") return () => true;
    const segments = source.split("/").map((segment) => {
        if (!segment.includes("*") && !segment.includes("?")) return (name: string) => name === segment;
        const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        const pattern = new RegExp(`^${segment.split("*").map((part) => part.split("?").map(escape).join(".")).join(".*")}$`, "s");
        return (name: string) => pattern.test(name);
    });
    return (file) => {
        const names = file.split("/");
        return names.length >= segments.length && segments.every((matches, k) => matches(names[k]!));
    };
}

/** What a build reads from its context. */
export interface BuildInputs {
    /** The context files the build reads, as {@link contextFiles} lists them. */
    files: string[];
    /** Set when the Dockerfile's sources could not be resolved: why `files` is the whole filtered context. */
    wholeContext?: string;
}

/**
 * The context files a build reads: those its Dockerfile's sources take, or all of them (see
 * {@link dockerfileSources}). Throws when one is a symbolic link: Docker sends the link, not the
 * file, and the generated context could not hold it faithfully.
 */
export function buildInputs(build: BuildSettings, root: string): BuildInputs {
    const { context, dockerfile } = buildPaths(build, root);
    const all = contextFiles(context, dockerfile);
    const sources = dockerfileSources(readFileSync(dockerfile, "utf8"), build);
    let inputs: BuildInputs;
    if ("wholeContext" in sources) {
        inputs = { files: all, wholeContext: sources.wholeContext };
    } else {
        const takes = sources.paths.map(sourceMatcher);
        inputs = { files: all.filter((file) => takes.some((take) => take(file))) };
    }
    const link = inputs.files.find((file) => lstatSync(join(context, file)).isSymbolicLink());
    if (link !== undefined) throw new Error(`${link} is a symbolic link; replace it with the file, or leave it out in ${ignoreFile(context, dockerfile) ? "the" : "a"} .dockerignore`);
    return inputs;
}

/**
 * The mode a file gets in a generated context: 0755 when any execute bit is set, else 0644
 * (git's two file modes), so the build does not depend on the checkout's umask.
 */
export function contextMode(mode: number): 0o755 | 0o644 {
    return mode & 0o111 ? 0o755 : 0o644;
}

/**
 * The platform @pulumi/docker v4.11.2 builds for when none is given: `linux/` and the provider's
 * `runtime.GOARCH` (provider/provider.go Check), i.e. this machine's architecture, in Go's
 * names for Node's `process.arch`.
 */
export function defaultPlatform(arch: string = process.arch): string {
    const goarch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", loong64: "loong64" };
    const name = goarch[arch];
    if (name === undefined) throw new pulumi.RunError(`cannot tell the Docker platform of this machine (Node.js reports arch ${arch}); known: ${Object.keys(goarch).join(", ")}`);
    return `linux/${name}`;
}

/**
 * Content hash of everything that can change a build's image: each file's path, mode
 * ({@link contextMode}) and content, the Dockerfile, build args, target and platform. Its
 * first 16 hex digits tag the image.
 */
export function buildHash(build: BuildSettings, root: string, platform: string, inputs: BuildInputs = buildInputs(build, root)): string {
    const { context, dockerfile } = buildPaths(build, root);
    const h = createHash("sha256");
    for (const file of inputs.files) {
        const abs = join(context, file);
        h.update(file).update(`\0${contextMode(statSync(abs).mode).toString(8)}\0`).update(readFileSync(abs)).update("\0");
    }
    h.update("dockerfile\0").update(readFileSync(dockerfile));
    h.update(JSON.stringify({ args: Object.entries(build.args).sort(), target: build.target ?? null, platform }));
    return h.digest("hex").slice(0, 16);
}

/** Where a service's generated context lives, relative to the project root (`/`-separated). */
export function generatedContextPath(stack: string, service: string, tag: string): string {
    return posix.join(".kubeforge", stack, "images", `${service}-${tag}`);
}

/**
 * Write `dest`: a directory holding exactly `files` of `context`, each with its
 * {@link contextMode}, nothing else. The directory is named for the tag of these files, so one
 * that exists is complete and reused; it is written beside its place and renamed into it, so a
 * concurrent run never sees half of one.
 */
export function writeBuildContext(context: string, files: string[], dest: string): void {
    if (existsSync(dest)) return;
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
        mkdirSync(tmp, { recursive: true });
        for (const file of files) {
            const from = join(context, file);
            const to = join(tmp, ...file.split("/"));
            mkdirSync(dirname(to), { recursive: true });
            writeFileSync(to, readFileSync(from));
            // chmod, unlike the mode of writeFileSync, is not masked by the umask.
            chmodSync(to, contextMode(statSync(from).mode));
        }
        renameSync(tmp, dest);
    } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        // Another run of the same sources got there first: its context is the same.
        if (!existsSync(dest)) throw err;
    }
}

/**
 * Remove the generated contexts of a service's other tags from `parent` (and what an
 * interrupted run left half-written over an hour ago), keeping `keep`.
 */
export function pruneBuildContexts(parent: string, service: string, keep: string, now = Date.now()): void {
    if (!existsSync(parent)) return;
    // Service names are DNS labels: nothing in them means anything to a RegExp.
    const complete = new RegExp(`^${service}-[0-9a-f]{16}$`);
    const partial = new RegExp(`^${service}-[0-9a-f]{16}\\.tmp-`);
    for (const entry of readdirSync(parent)) {
        const path = join(parent, entry);
        const stale = complete.test(entry) ? path !== keep : partial.test(entry) && now - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? now) > 3_600_000;
        if (stale) rmSync(path, { recursive: true, force: true });
    }
}

/** A service image, built from source and pushed; {@link ref} is the digest reference to deploy. */
export class ServiceImage extends pulumi.ComponentResource {
    /** `repository@sha256:...` as pushed (or as the registry already held it under the tag): the Deployment runs exactly this. */
    readonly ref: pulumi.Output<string>;
    /** The content-addressed tag. */
    readonly tag: string;

    constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:image:ServiceImage", name, {}, opts);
        const root = args.root ?? process.cwd();
        const { context, dockerfile, dockerfileInput } = buildPaths(args.build, root);
        const key = `kubeforge:services.${args.service}.build`;
        if (!existsSync(context) || !statSync(context).isDirectory()) {
            throw new pulumi.RunError(`${key}.context: "${args.build.context}" is not a directory (resolved to ${context})`);
        }
        if (!existsSync(dockerfile)) {
            throw new pulumi.RunError(`${key}.dockerfile: "${args.build.dockerfile ?? `${args.build.context}/Dockerfile`}" does not exist (resolved to ${dockerfile})`);
        }
        let inputs: BuildInputs;
        try {
            inputs = buildInputs(args.build, root);
        } catch (err) {
            throw new pulumi.RunError(`${key}.context: ${(err as Error).message}`);
        }
        if (inputs.wholeContext !== undefined) {
            pulumi.log.info(`the ${args.service} image tag covers the whole build context, so any change there rebuilds it: ${inputs.wholeContext}`, this);
        }

        const platform = args.registry.platform ?? defaultPlatform();
        this.tag = buildHash(args.build, root, platform, inputs);
        // The generated build context the provider gets, relative to the project root (each stack's apart).
        const buildContext = generatedContextPath(pulumi.getStack(), args.service, this.tag);
        const generated = resolve(root, buildContext);
        writeBuildContext(context, inputs.files, generated);
        pruneBuildContexts(dirname(generated), args.service, generated);

        const repository = args.registry.repository(args.service);
        const imageName = pulumi.interpolate`${repository}:${this.tag}`;
        // A tag already in the registry names this image (it is a content hash): never push it again.
        const existing = new RegistryTag(`${name}-tag`, { image: imageName, credentials: args.registry.credentials }, { parent: this });
        const image = new docker.Image(`${name}-image`, {
            imageName,
            build: {
                context: buildContext,
                dockerfile: dockerfileInput,
                args: args.build.args,
                target: args.build.target,
                platform,
            },
            registry: args.registry.credentials,
            skipPush: existing.digest.apply((digest) => digest !== ""),
        }, { parent: this });
        this.ref = pulumi.all([existing.digest, image.repoDigest, repository]).apply(([digest, pushed, repo]) => (digest !== "" ? `${repo}@${digest}` : pushed));
        this.registerOutputs({ ref: this.ref, tag: this.tag, context: buildContext });
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
