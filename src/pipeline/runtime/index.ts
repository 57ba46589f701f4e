/** The provider runtime: the resilient call path between tasks and AI providers. */
export { createProviderRuntime, DEFAULT_BREAKER, DEFAULT_RETRY, realClock, RULE_ROUTE } from "./runtime.ts";
export { createLlmHealthCheck, thisProcess, type FleetHealthOptions, type LlmHealthCheckOptions, type Reporter } from "./health-check.ts";
export { rateLimitKey } from "./health.ts";
export { runtimeOptionsFromConfig, type ConfiguredRuntimeOptions } from "./from-config.ts";
export { windowFor } from "./limiter.ts";
export { AttemptsSpentError, RouteUnavailableError } from "./retry.ts";
export type * from "./types.ts";
