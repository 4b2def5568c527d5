/**
 * Pulumi mocks for the EKS tests: records every resource's type, name and inputs, answers the AWS
 * data sources the EKS flavour calls, and gives the cluster the fake state a real one would have.
 * Also reads a stack's Pulumi.<stack>.yaml into validated settings.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
// Internal module of @pulumi/pulumi: the monitor the mocks run behind, and a way to drain its queue.
import * as runtimeSettings from "@pulumi/pulumi/runtime/settings";
import { parse } from "yaml";
import { CONFIG_NAMESPACE, parseSettings, type RawConfig, type Settings } from "../components/config";

/** One registered resource. */
export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}

export const recorded: Recorded[] = [];

/** Resource options as the engine receives them. */
export interface RecordedOptions {
    protect: boolean;
    ignoreChanges: string[];
    /** URNs of explicit and implied dependencies. */
    dependencies: string[];
}
const options = new Map<string, RecordedOptions>();

/** Options a resource was registered with. */
export function optionsOf(type: string, name: string): RecordedOptions {
    const o = options.get(`${type}::${name}`);
    if (!o) throw new Error(`no ${type} named ${name} was registered`);
    return o;
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getProtect(): boolean;
    getIgnorechangesList(): string[];
    getDependenciesList(): string[];
}
export const invoked: { token: string; inputs: Record<string, unknown> }[] = [];

const ACCOUNT = "123456789012";
const REGION = "eu-west-1";

/** Fake outputs a real AWS resource of this type would have. */
function fakeState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
    switch (type) {
        case "aws:eks/cluster:Cluster":
            return {
                arn: arn("eks", `cluster/${String(inputs.name)}`),
                endpoint: `https://${name.toUpperCase()}.gr7.${REGION}.eks.amazonaws.com`,
                certificateAuthority: { data: "LS0tLS1CRUdJTi1GQUtFLUNBLS0tLS0=" },
                identities: [{ oidcs: [{ issuer: `https://oidc.eks.${REGION}.amazonaws.com/id/FAKE${name.length}` }] }],
                vpcConfig: { ...(inputs.vpcConfig as object), clusterSecurityGroupId: "sg-0123456789abcdef0" },
            };
        case "aws:iam/role:Role":
            return { name: `${name}-role`, arn: `arn:aws:iam::${ACCOUNT}:role/${name}` };
        case "aws:iam/policy:Policy":
            return { arn: `arn:aws:iam::${ACCOUNT}:policy/${name}` };
        case "aws:kms/key:Key":
            return { arn: arn("kms", `key/${name}`), keyId: `${name}-key-id` };
        case "aws:ec2/launchTemplate:LaunchTemplate":
            return { latestVersion: 1 };
        case "aws:eks/nodeGroup:NodeGroup":
            return { nodeGroupName: `${name}-ng` };
        case "aws:ecr/repository:Repository":
            return { repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${String(inputs.name)}` };
        default:
            return {};
    }
}

/** Install the mocks (once per test file). */
export function installMocks(): void {
    void pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const inputs = args.inputs as Record<string, unknown>;
                recorded.push({ type: args.type, name: args.name, inputs });
                return { id: `${args.name}-id`, state: { ...inputs, ...fakeState(args.type, args.name, inputs) } };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                invoked.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
                switch (args.token) {
                    case "aws:index/getPartition:getPartition":
                        return { partition: "aws", dnsSuffix: "amazonaws.com" };
                    case "aws:index/getAvailabilityZones:getAvailabilityZones":
                        return { names: ["eu-west-1a", "eu-west-1b", "eu-west-1c"] };
                    case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
                        return { proxyEndpoint: `https://${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`, userName: "AWS", password: "fake-token" };
                    case "aws:eks/getAddonVersion:getAddonVersion":
                        return { version: `v1.0.0-eksbuild.${String(args.inputs.addonName).length}` };
                    case "aws:ec2/getVpc:getVpc":
                        return { cidrBlock: "10.99.0.0/16" };
                    default:
                        return {};
                }
            },
        },
        "kubeforge",
        "test",
        true,
    );
    // Mocks see inputs only; the monitor's request also carries the resource options.
    const monitor = runtimeSettings.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: unknown): unknown };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        options.set(`${req.getType()}::${req.getName()}`, { protect: req.getProtect(), ignoreChanges: req.getIgnorechangesList(), dependencies: req.getDependenciesList() });
        return register(req, cb);
    };
}

/** Wait until every registration the program started has reached the mocks. */
export async function settle(): Promise<void> {
    // waitForRPCs is exported at run time but left out of the type declarations.
    await (runtimeSettings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** The resolved value of an output (under mocks every output resolves). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** Settings from Pulumi.<stack>.yaml in the project root, optionally with raw overrides and under another stack name. */
export function stackSettings(stack: string, override: (raw: RawConfig) => void = () => undefined, as = stack): Settings {
    const file = path.join(__dirname, "..", `Pulumi.${stack}.yaml`);
    const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    const raw: RawConfig = {};
    for (const [key, value] of Object.entries(doc.config)) {
        if (key.startsWith(`${CONFIG_NAMESPACE}:`)) raw[key.slice(CONFIG_NAMESPACE.length + 1)] = value;
    }
    override(raw);
    const region = doc.config["aws:region"];
    return parseSettings(raw, "kubeforge", as, { awsRegion: typeof region === "string" ? region : undefined });
}

/** Resources of a type whose name starts with `prefix`. */
export function ofType(type: string, prefix = ""): Recorded[] {
    return recorded.filter((r) => r.type === type && r.name.startsWith(prefix));
}

/** The one resource of a type and name. */
export function one(type: string, name: string): Recorded {
    const found = recorded.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length} (have: ${recorded.filter((r) => r.type === type).map((r) => r.name).join(", ")})`);
    return found[0] as Recorded;
}
