/** The provider runtime: the resilient call path between tasks and AI providers. */
export { createProviderRuntime } from "./runtime.ts";
export { createLlmHealthCheck } from "./health-check.ts";
export { rateLimitKey } from "./health.ts";
export { runtimeOptionsFromConfig } from "./from-config.ts";
export type * from "./types.ts";
