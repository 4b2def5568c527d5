/** The kubeforge service kit: what backend, messages and reports share. */
export { EnvError, baseEnv, intVar, loadEnv, urlVar, type BaseEnv } from "./config";
export { HttpError, codeForStatus, parseInput, type ErrorBody } from "./errors";
export { UNMATCHED_ROUTE, registerMetrics } from "./metrics";
export { buildApp, runService, startService, type Phase, type RunningService, type ServiceDefinition } from "./service";
