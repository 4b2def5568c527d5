/**
 * Runs the real program (`index.ts`) under Pulumi's mocks with a stack's config and records
 * every resource it registers: no CLI, no credentials, no network. Used by `npm run synth` and
 * by the tests.
 */
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { join, relative, sep } from "node:path";

/** One registered resource or component, as the synth contract describes it (plus options). */
export interface RecordedResource {
    /** Type token, e.g. `kubernetes:apps/v1:Deployment` or `kubeforge:microservice:Microservice`. */
    type: string;
    /** Logical name. */
    name: string;
    /** Logical name of the parent, or null for top-level resources. */
    parent: string | null;
    /** Inputs as declared (resolved under mocks). */
    inputs: Record<string, unknown>;
    /** Resource options a user depends on. */
    options: {
        protect: boolean;
        ignoreChanges: string[];
        /** URNs it depends on: through its inputs and through `dependsOn`. */
        dependencies: string[];
        /** Provider reference (`urn::id`), if any. */
        provider: string;
        /** Input paths whose change replaces the resource. */
        replaceOnChanges: string[];
        /** Whether a replacement deletes the old resource first. */
        deleteBeforeReplace: boolean;
        /** Outputs the SDK marks secret on top of secret inputs. */
        additionalSecretOutputs: string[];
    };
    /** Whether it is a custom resource (false for components). */
    custom: boolean;
    /** URN the mock monitor gave it. */
    urn: string;
}

/** How a secret input is recorded (`{ <sig key>: <secret sig>, value }`, as @pulumi/pulumi's runtime/rpc serializes it). */
export interface RecordedSecret {
    value: unknown;
}

/** Whether a recorded input is a secret. */
export function isSecretValue(value: unknown): value is RecordedSecret {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;
}

/** A program run under mocks. */
export interface ProgramRun {
    resources: RecordedResource[];
    /** Stack outputs, resolved. */
    outputs: Record<string, unknown>;
}

function shortHash(text: string): string {
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    return h.toString(16).padStart(8, "0");
}

/** Account and region of the fake AWS answers (the region matches `getRegion`). */
const FAKE_ACCOUNT = "123456789012";
const FAKE_REGION = "eu-west-1";

/** Fake provider state for a resource: its inputs plus what the real provider would compute. */
function fakeState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const state: Record<string, unknown> = { ...inputs };
    switch (type) {
        case "kubernetes:core/v1:Service": {
            const spec = inputs.spec as { type?: string } | undefined;
            if (spec?.type === "LoadBalancer") state.status = { loadBalancer: { ingress: [{ ip: `198.51.100.${parseInt(shortHash(name).slice(0, 2), 16) % 250 + 1}` }] } };
            break;
        }
        // EKS flavour: what AWS computes for the resources the cluster and its outputs read.
        case "aws:eks/cluster:Cluster": {
            const id = shortHash(name).toUpperCase();
            state.arn = `arn:aws:eks:${FAKE_REGION}:${FAKE_ACCOUNT}:cluster/${String(inputs.name ?? name)}`;
            state.endpoint = `https://${id}.gr7.${FAKE_REGION}.eks.amazonaws.com`;
            state.certificateAuthority = { data: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==" };
            state.identities = [{ oidcs: [{ issuer: `https://oidc.eks.${FAKE_REGION}.amazonaws.com/id/${id}` }] }];
            state.vpcConfig = { ...(inputs.vpcConfig as object), clusterSecurityGroupId: `sg-${shortHash(name)}` };
            break;
        }
        case "aws:iam/role:Role":
            state.name = inputs.name ?? name;
            state.arn = `arn:aws:iam::${FAKE_ACCOUNT}:role/${String(state.name)}`;
            break;
        case "aws:iam/policy:Policy":
            state.arn = `arn:aws:iam::${FAKE_ACCOUNT}:policy/${String(inputs.name ?? name)}`;
            break;
        case "aws:kms/key:Key":
            state.keyId = shortHash(name);
            state.arn = `arn:aws:kms:${FAKE_REGION}:${FAKE_ACCOUNT}:key/${shortHash(name)}`;
            break;
        case "aws:cloudwatch/logGroup:LogGroup":
            state.arn = `arn:aws:logs:${FAKE_REGION}:${FAKE_ACCOUNT}:log-group:${String(inputs.name ?? name)}`;
            break;
        case "aws:ec2/launchTemplate:LaunchTemplate":
            state.latestVersion = 1;
            break;
        case "aws:eks/nodeGroup:NodeGroup":
            state.nodeGroupName = inputs.nodeGroupName ?? name;
            break;
        case "aws:ecr/repository:Repository":
            state.repositoryUrl = `${FAKE_ACCOUNT}.dkr.ecr.${FAKE_REGION}.amazonaws.com/${String(inputs.name ?? name)}`;
            break;
        case "random:index/randomPassword:RandomPassword": {
            // Letters and digits of the requested length, stable per name (never a real secret).
            const length = Number(inputs.length ?? 16);
            state.result = Array.from({ length: Math.ceil(length / 8) }, (_, i) => shortHash(`${name}-${i}`)).join("").slice(0, length);
            break;
        }
        case "random:index/randomId:RandomId":
            // Hex of the requested bytes, stable per name and keepers (a new keeper value, a new id, as the provider does).
            state.hex = shortHash(`${name}-${JSON.stringify(inputs.keepers ?? {})}`).repeat(8).slice(0, 2 * Number(inputs.byteLength ?? 8));
            break;
        case "aws:elasticache/subnetGroup:SubnetGroup":
            state.name = inputs.name ?? name;
            break;
        case "aws:elasticache/replicationGroup:ReplicationGroup":
            state.primaryEndpointAddress = `master.${name}.${shortHash(name).slice(0, 6)}.euw1.cache.amazonaws.com`;
            state.arn = `arn:aws:elasticache:${FAKE_REGION}:${FAKE_ACCOUNT}:replicationgroup:${name}`;
            break;
        case "command:local:Command":
            // What the command printed; for the kind cluster, its kubeconfig.
            state.stdout = `fake stdout of ${name}`;
            state.stderr = "";
            break;
        case "docker:index/remoteImage:RemoteImage":
            state.imageId = `sha256:${shortHash(String(inputs.name ?? name)).repeat(8)}`;
            break;
        case "pulumi-nodejs:dynamic:Resource":
            // components/registry-tag.ts RegistryTag: the tag is not in the registry yet.
            if ("image" in inputs) state.digest = "";
            break;
        case "docker:index/image:Image": {
            const imageName = String(inputs.imageName ?? name);
            const repo = imageName.replace(/:[^:/]+$/, "");
            state.repoDigest = `${repo}@sha256:${shortHash(imageName).repeat(8)}`;
            break;
        }
    }
    return state;
}

/** Zones of the fake region (eu-west-1) and their ids, in name order. */
const FAKE_ZONES: readonly (readonly [string, string])[] = [["eu-west-1a", "euw1-az1"], ["eu-west-1b", "euw1-az2"], ["eu-west-1c", "euw1-az3"]];

/** Fake results of provider functions (invokes) the program calls; `impaired` zones have that state (DescribeAvailabilityZones' `state` filter sees it). */
function fakeCall(token: string, inputs: Record<string, unknown>, impaired: readonly string[] = []): Record<string, unknown> {
    switch (token) {
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" };
        case "aws:index/getRegion:getRegion":
            return { name: "eu-west-1", region: "eu-west-1", id: "eu-west-1" };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/ci", userId: "AIDEXAMPLE", id: "123456789012" };
        case "aws:index/getAvailabilityZones:getAvailabilityZones": {
            const zones = FAKE_ZONES.filter(([zone]) => inputs.state === undefined || inputs.state === (impaired.includes(zone) ? "impaired" : "available"));
            return { names: zones.map(([zone]) => zone), zoneIds: zones.map(([, id]) => id), id: "eu-west-1" };
        }
        case "aws:ec2/getVpc:getVpc":
            return { ...inputs, cidrBlock: "10.99.0.0/16" };
        case "aws:ec2/getSubnet:getSubnet":
            // A /24 of the fake existing VPC (10.99.0.0/16), one per subnet id.
            return { ...inputs, cidrBlock: `10.99.${parseInt(shortHash(String(inputs.id)).slice(0, 2), 16)}.0/24` };
        case "docker:index/getNetwork:getNetwork":
            // kind's network as Docker makes it: an IPv4 subnet from Docker's IPAM pools, and the
            // IPv6 ULA subnet kind generates (kind v0.32.0 pkg/cluster/internal/providers/docker/network.go).
            return {
                ...inputs, id: `${String(inputs.name)}-network-id`, driver: "bridge", internal: false, scope: "local", options: {},
                ipamConfigs: [{ subnet: "172.18.0.0/16", gateway: "172.18.0.1" }, { subnet: "fc00:f853:ccd:e793::/64", gateway: "fc00:f853:ccd:e793::1" }],
            };
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return { userName: "AWS", password: "fake-ecr-password", proxyEndpoint: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", authorizationToken: "QVdTOmZha2U=", id: "ecr" };
        default:
            return { ...inputs };
    }
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getProtect(): boolean;
    getIgnorechangesList(): string[];
    getDependenciesList(): string[];
    getProvider(): string;
    getReplaceonchangesList(): string[];
    getDeletebeforereplace(): boolean;
    getAdditionalsecretoutputsList(): string[];
    getObject(): unknown;
}
interface Monitor {
    registerResource(req: RegisterRequest, callback: (err: unknown, res: { getUrn(): string } | undefined) => void): Promise<void>;
}

// `waitForRPCs` (wait until every pending registration is done) is exported but not declared.
const runtimeSettings = settings as unknown as { waitForRPCs(): Promise<void>; getMonitor(): Monitor | undefined };

/** Provider state a test wants instead of the fake one (merged over it), or undefined. */
export type StateOverride = (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;

/** How {@link runUnderMocks} runs the program beyond its config. */
export interface RunOptions {
    /** Provider state a test wants instead of the fake one; default none. */
    override?: StateOverride;
    /** Config keys to hold as secrets, as the CLI does for values set with `--secret`; default none. */
    secretKeys?: string[];
    /** Zones of the fake region AWS reports as `impaired` (an outage); default none. */
    impairedZones?: string[];
}

/**
 * Run `load()` (which must import the program afresh) under mocks with `config`, and return every
 * resource it registered, in registration order, and its stack outputs.
 */
export async function runUnderMocks(
    stack: string,
    config: Record<string, unknown>,
    load: () => Promise<Record<string, unknown>>,
    project = "kubeforge",
    options: RunOptions = {},
): Promise<ProgramRun> {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(config)) flat[k] = typeof v === "string" ? v : JSON.stringify(v);
    pulumi.runtime.setAllConfig(flat, options.secretKeys ?? []);

    await pulumi.runtime.setMocks({
        newResource: (args) => {
            const inputs = args.inputs as Record<string, unknown>;
            return { id: args.custom ? `${args.name}-id` : undefined, state: { ...fakeState(args.type, args.name, inputs), ...options.override?.(args.type, args.name, inputs) } };
        },
        call: (args) => fakeCall(args.token, args.inputs as Record<string, unknown>, options.impairedZones),
    }, project, stack, false);

    const resources: RecordedResource[] = [];
    const monitor = runtimeSettings.getMonitor();
    if (!monitor) throw new Error("mock monitor missing after setMocks");
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = async (req, callback) => {
        const record: RecordedResource = {
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent() ? req.getParent().split("::").pop() ?? null : null,
            inputs: rpc.deserializeProperties(req.getObject() as Parameters<typeof rpc.deserializeProperties>[0]) as Record<string, unknown>,
            options: {
                protect: req.getProtect(),
                ignoreChanges: req.getIgnorechangesList(),
                dependencies: req.getDependenciesList(),
                provider: req.getProvider(),
                replaceOnChanges: req.getReplaceonchangesList(),
                deleteBeforeReplace: req.getDeletebeforereplace(),
                additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            },
            custom: req.getCustom(),
            urn: "",
        };
        resources.push(record);
        return register(req, (err, res) => {
            if (res) record.urn = res.getUrn();
            callback(err, res);
        });
    };

    const outputs: Record<string, unknown> = {};
    await failingOnRaisedErrors(async () => {
        const exported = await load();
        await runtimeSettings.waitForRPCs();
        for (const [key, value] of Object.entries(exported)) {
            outputs[key] = await resolve(value);
        }
    });
    return { resources, outputs };
}

/**
 * Runs `work` and fails, with one line, when the program raised an error outside its own control
 * flow meanwhile: an unhandled rejection (an `apply` that threw, so a resource whose inputs it
 * fed was never registered; a failed registration) or an uncaught exception, or when it logged an
 * error. The Pulumi CLI fails such a run: @pulumi/pulumi 3.270 `cmd/run/run.js` logs every uncaught
 * error and `cmd/run/index.js` exits non-zero after any ("not all resources may have been
 * created"). Under mocks nothing listens, and a script that exits once its work is done exits 0
 * before Node gets to report the rejection, with the resources it fed silently missing.
 */
async function failingOnRaisedErrors(work: () => Promise<void>): Promise<void> {
    const raised: unknown[] = [];
    let stop!: (err: unknown) => void;
    // Settles when the first error is raised: an Output that rejected never resolves its applies.
    const stopped = new Promise<never>((_, reject) => { stop = reject; });
    stopped.catch(() => undefined);
    const onRaised = (err: unknown) => {
        // One error surfaces once per promise chain that awaited it: count it once.
        if (!raised.includes(err)) raised.push(err);
        stop(err);
    };
    process.on("unhandledRejection", onRaised);
    process.on("uncaughtException", onRaised);
    try {
        await Promise.race([work(), stopped]);
        // Node reports a rejection nothing handled only after the microtasks run out: let it.
        await new Promise((done) => setImmediate(done));
        await new Promise((done) => setImmediate(done));
    } catch (err) {
        if (raised.length === 0) throw err;
    } finally {
        process.off("unhandledRejection", onRaised);
        process.off("uncaughtException", onRaised);
    }
    if (raised.length > 0) throw new pulumi.RunError(raisedErrorLine(raised));
    if (pulumi.log.hasErrors()) throw new pulumi.RunError("the program logged an error under Pulumi mocks (above); a real preview fails on it too");
}

/** One line for errors the program raised: the first one's message and where it was thrown in this project. */
function raisedErrorLine(raised: readonly unknown[], root = join(__dirname, "..")): string {
    const [first] = raised;
    const err = first instanceof Error ? first : new Error(String(first));
    const message = err.message.split("\n")[0] ?? "";
    // The first stack frame in the project's own files (not its dependencies).
    const at = (err.stack ?? "").split("\n").map((line) => /\(?((?:\/|[A-Za-z]:\\)[^():]+):(\d+):\d+\)?\s*$/.exec(line))
        .find((m) => m !== null && !m[1]!.includes(`${sep}node_modules${sep}`) && !relative(root, m[1]!).startsWith(".."));
    const where = at ? ` (${relative(root, at[1]!).split(sep).join("/")}:${at[2]})` : "";
    const more = raised.length > 1 ? `; and ${raised.length - 1} more` : "";
    return `the program failed under Pulumi mocks (a real preview fails too; what the failing value fed was never declared): ${message}${where}${more}`;
}

/** Resolve an exported value (Outputs, possibly nested in plain objects) under mocks. */
async function resolve(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        return new Promise((done) => (value as pulumi.Output<unknown>).apply((v) => { done(v); return v; }));
    }
    if (Array.isArray(value)) return Promise.all(value.map(resolve));
    if (value && typeof value === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = await resolve(v);
        return out;
    }
    return value;
}
