import type { HealthCheck } from "../health.ts";
import type { ProviderRuntime } from "./types.ts";

/**
 * `GET /health/llm` -> `{"available": true, ...}` (runbook 003 §3.2). Not required for
 * readiness: while providers are down, fallbacks and queued retries keep the instance useful.
 */
export function createLlmHealthCheck(runtime: ProviderRuntime, options: { probe?: boolean } = {}): HealthCheck {
  return {
    name: "llm",
    required: false,
    async run() {
      const report = await runtime.health({ probe: options.probe ?? true });
      return {
        ok: report.available,
        available: report.available,
        primary: report.primary,
        fallbacks: report.fallbacks,
        breakers: report.breakers,
        lastError: report.lastError,
        rateLimits: report.rateLimits,
        ...(report.probes ? { providers: report.probes } : {}),
      };
    },
  };
}
