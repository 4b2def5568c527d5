/**
 * What kind of run the program is in: under Pulumi mocks (unit tests, `npm run synth`), a preview,
 * or a real update by the engine.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";

/** Whether the program runs under `pulumi.runtime.setMocks` (unit tests, `npm run synth`) rather than the engine. */
export function runningUnderMocks(): boolean {
    return pulumi.runtime.getMonitor() instanceof MockMonitor;
}

/** Whether this run changes real infrastructure (`pulumi up`, `destroy`): neither under mocks nor a preview. */
export function realUpdate(): boolean {
    return !runningUnderMocks() && !pulumi.runtime.isDryRun();
}
