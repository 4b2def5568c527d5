/**
 * Amazon ECR as the EKS flavour's image registry: one repository per built service, scanned on
 * push, immutable tags, old images expired. Nodes pull through their role
 * (AmazonEC2ContainerRegistryReadOnly); pushes use a short-lived authorization token.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ImageRegistry, RegistryCredentials } from "../types";

/** Lifecycle policy keeping the newest `keep` images of a repository, whatever their tags. */
export function keepLastImagesPolicy(keep: number): { rules: object[] } {
    return {
        rules: [
            {
                rulePriority: 1,
                description: `Keep the last ${keep} images`,
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
                action: { type: "expire" },
            },
        ],
    };
}

/** `docker login` server for an ECR proxy endpoint (`https://<account>.dkr.ecr.<region>.amazonaws.com`). */
export function registryServer(proxyEndpoint: string): string {
    return proxyEndpoint.replace(/^https?:\/\//, "");
}

export interface EcrRegistryArgs {
    /** Repository names are `<prefix>/<service>` (the cluster name). */
    prefix: string;
    /** Services that build an image; each gets a repository. */
    services: string[];
    /** Images each repository keeps. */
    keepImages: number;
    /** Whether `pulumi destroy` may delete repositories that still hold images (never in production). */
    forceDelete: boolean;
    /** Docker platform the nodes run (`linux/amd64` or `linux/arm64`); images are built for it. */
    platform: string;
    /** AWS provider (region, default tags). */
    provider: aws.Provider;
}

/** ECR repositories for built services, implementing {@link ImageRegistry}. */
export class EcrRegistry extends pulumi.ComponentResource implements ImageRegistry {
    /** Push credentials from `ecr:GetAuthorizationToken` (valid 12 hours; secret). */
    readonly credentials: pulumi.Output<RegistryCredentials>;
    readonly platform: string;
    private readonly repositories: ReadonlyMap<string, aws.ecr.Repository>;

    constructor(name: string, args: EcrRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("kubeforge:cluster:EcrRegistry", name, {}, opts);
        const childOpts = { parent: this, provider: args.provider };
        this.platform = args.platform;
        this.repositories = new Map(
            args.services.map((service) => {
                const repo = new aws.ecr.Repository(
                    `${name}-${service}`,
                    {
                        name: `${args.prefix}/${service}`,
                        imageTagMutability: "IMMUTABLE",
                        imageScanningConfiguration: { scanOnPush: true },
                        forceDelete: args.forceDelete,
                    },
                    childOpts,
                );
                new aws.ecr.LifecyclePolicy(`${name}-${service}`, { repository: repo.name, policy: JSON.stringify(keepLastImagesPolicy(args.keepImages)) }, childOpts);
                return [service, repo] as const;
            }),
        );
        const token = aws.ecr.getAuthorizationTokenOutput({}, childOpts);
        this.credentials = pulumi.secret(
            pulumi.all([token.proxyEndpoint, token.userName, token.password]).apply(([endpoint, username, password]) => ({ server: registryServer(endpoint), username, password })),
        );
        this.registerOutputs({ repositories: Object.fromEntries([...this.repositories].map(([s, r]) => [s, r.repositoryUrl])) });
    }

    /** Repository URL of a built service. */
    repository(service: string): pulumi.Output<string> {
        const repo = this.repositories.get(service);
        if (!repo) throw new Error(`no ECR repository for service "${service}": only services with build get one (have: ${[...this.repositories.keys()].join(", ")})`);
        return repo.repositoryUrl;
    }
}
