/**
 * The Docker daemon a stack builds images and runs kind's containers on, checked before anything
 * is created.
 *
 * It runs the same checks as `npm run doctor` ({@link machinePreflight}) on the endpoint the docker
 * CLI resolves (components/docker-endpoint.ts). A kind stack then gets one explicit provider with
 * exactly that `host`, which both code paths of @pulumi/docker 4.11.2 honour: `docker.Image` uses it
 * without falling back to other sockets (pulumi-docker v4.11.2 `provider/image.go`
 * configureDockerClient, `isExplicitHost`), and the bridged Container, Volume, Network and
 * RemoteImage use it as their `host` (`provider/resources.go`); kind is pointed at it too
 * (components/cluster/kind/kind.ts). A stack that only builds images (EKS, existing) keeps the
 * default provider, so its state holds no machine's socket path and CI and laptops preview it
 * alike; its checks make sure that default reaches the same daemon. Either way, a green doctor
 * means `pulumi up` talks to the daemon the doctor checked.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { machine } from "node:os";
import type { Settings } from "./config";
import { kernelRelease, thisMachine, type DockerDaemon } from "./docker-endpoint";
import { machinePreflight, stackNeeds, type Preflight } from "./prerequisites";
import { systemRunner } from "./runner";
import { runningUnderMocks } from "./runtime";

/** A checked Docker daemon and the explicit provider that talks to it. */
export interface LocalDocker {
    /** Provider every docker resource is created with. */
    readonly provider: docker.Provider;
    /** What the daemon said about itself (endpoint, ID, version, cgroup version, kernel). */
    readonly daemon: DockerDaemon;
}

/**
 * What stands in for the daemon under Pulumi mocks (tests, `npm run synth`), where nothing is
 * created: the docker CLI's default endpoint, a cgroup v2 daemon running on this machine itself
 * (its kernel, host name and architecture are this machine's, as Docker Engine's on Linux are).
 */
export const MOCK_DOCKER_DAEMON: DockerDaemon = {
    endpoint: { host: "unix:///var/run/docker.sock", source: "mocks" },
    id: "mocks",
    serverVersion: "mocks",
    cgroupVersion: "2",
    kernelVersion: kernelRelease(thisMachine().release),
    name: thisMachine().hostname,
    architecture: machine(),
};

export interface DockerHostArgs {
    /** Validated settings; decide what is checked (kind stacks: kind, cgroup v2, load-balancer ports). */
    settings: Settings;
    /**
     * The machine checks. Default: {@link machinePreflight} over the real PATH and environment,
     * the doctor's own; under Pulumi mocks, where nothing is created, {@link MOCK_DOCKER_DAEMON}.
     * Any problem fails the program with its lines before any resource is declared, so
     * `pulumi preview` fails early too.
     */
    preflight?: () => Preflight;
}

/** Whether a stack needs Docker on this machine: kind runs in it, and images are built with it. */
export function needsDocker(settings: Settings): boolean {
    const needs = stackNeeds(settings);
    return needs.kind !== undefined || needs.builds;
}

/** The Docker daemon of this machine, checked; for kind stacks also as one explicit provider. */
export class DockerHost extends pulumi.ComponentResource {
    /** The explicit provider (kind stacks); undefined where the default provider builds the images. */
    readonly provider?: docker.Provider;
    readonly daemon: DockerDaemon;

    constructor(name: string, args: DockerHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:docker:DockerHost", name, {}, opts);
        const needs = stackNeeds(args.settings);
        const preflight = args.preflight
            ?? (runningUnderMocks() ? () => ({ problems: [], daemon: MOCK_DOCKER_DAEMON }) : () => machinePreflight(systemRunner(), process.env, needs));
        const { problems, daemon } = preflight();
        if (problems.length > 0) throw new pulumi.RunError(problems.join("\n"));
        if (daemon === undefined) throw new pulumi.RunError("docker: no daemon was checked; run `npm run doctor`");
        this.daemon = daemon;
        if (needs.kind !== undefined) {
            this.provider = new docker.Provider(`${name}-provider`, { host: daemon.endpoint.host }, { parent: this });
        }
        // No outputs: the endpoint is this machine's, and the state of a stack previewed from CI and
        // laptops alike must not change with it.
        this.registerOutputs({});
    }
}
