/**
 * `npm run doctor [-- <stack>]` (default stack `dev`): is this machine ready for `pulumi up` of
 * the stack? Checks the Pulumi CLI and its login, Docker (client, the endpoint the docker CLI
 * resolves, the daemon there; for kind stacks also cgroup v2, one cloud-provider-kind and free
 * load-balancer ports), kind (kind stacks) and the AWS CLI (EKS stacks), and prints one line per
 * problem with its fix. Exits 1 on any problem.
 */
import { settingsFromConfig } from "../components/config";
import { stackNeeds, stackPrerequisites, type StackNeeds } from "../components/prerequisites";
import { systemRunner, type Runner } from "../components/runner";
import { PROJECT_ROOT, readProjectFile, stackConfig } from "./stack-files";

/** Every problem standing between this machine and `pulumi up -s <stack>`, one line each. */
export function doctor(stack: string, run: Runner, root = PROJECT_ROOT, env: NodeJS.ProcessEnv = process.env): string[] {
    let needs: StackNeeds;
    try {
        needs = stackNeeds(settingsFromConfig(stackConfig(stack, { root }), readProjectFile(root).name, stack));
    } catch (err) {
        return (err as Error).message.split("\n");
    }
    return stackPrerequisites(run, env, needs);
}

/** Print the doctor's findings for a stack; 0 when there are none. */
export function report(stack: string, run: Runner, root = PROJECT_ROOT, print: (line: string) => void = console.error, env: NodeJS.ProcessEnv = process.env): number {
    const problems = doctor(stack, run, root, env);
    for (const line of problems) print(line);
    if (problems.length > 0) return 1;
    print(`doctor: this machine has everything stack ${stack} needs`);
    return 0;
}

if (require.main === module) {
    process.exit(report(process.argv[2] ?? "dev", systemRunner()));
}
