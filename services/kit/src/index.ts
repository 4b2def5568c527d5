/** The kubeforge service kit: what backend, messages and reports share. */
export { EnvError, baseEnv, intVar, loadEnv, shownValue, urlVar, type BaseEnv } from "./config";
export { HttpError, parseInput, type ErrorBody } from "./errors";
export { UNMATCHED_ROUTE } from "./metrics";
export { runService, startService, type Phase, type RunningService, type ServiceDefinition, type WarmUp } from "./service";
