import type { SluiceConfig } from "../../core/config.ts";
import type { ProviderRuntimeOptions, Route } from "./types.ts";

export type ConfiguredRuntimeOptions = Pick<
  ProviderRuntimeOptions,
  "defaults" | "limits" | "retry" | "breaker" | "timeoutMs" | "fallbacks" | "isolatedRetryAfterMs"
>;

/** The runtime options the environment sets; callers add providers, metrics, logger and Redis. */
export function runtimeOptionsFromConfig(config: SluiceConfig): ConfiguredRuntimeOptions {
  const { ai } = config;
  const fallbacks: Route[] = [];
  if (ai.fallback.provider) {
    // `local` ignores the model; naming it "local" keeps metrics labels honest.
    const model = ai.fallback.model ?? (ai.fallback.provider === "local" ? "local" : ai.model);
    fallbacks.push({ provider: ai.fallback.provider, model });
  }
  return {
    defaults: {
      provider: ai.provider,
      model: ai.model,
      maxOutputTokens: ai.maxOutputTokens,
      embeddingModel: ai.embeddingModel,
      embeddingProvider: ai.embeddingProvider,
    },
    limits: {
      default: { rpm: ai.limits.rpm, tpm: ai.limits.tpm },
      routes: Object.fromEntries(Object.entries(ai.limits.routes).map(([route, l]) => [route, { rpm: l.rpm, tpm: l.tpm }])),
      maxWaitMs: ai.limits.maxWaitMs,
      windowSeconds: ai.limits.windowSeconds,
    },
    retry: { maxAttempts: ai.retry.maxAttempts, baseDelayMs: ai.retry.baseDelayMs, maxRetryAfterMs: ai.retry.maxRetryAfterMs },
    breaker: { threshold: ai.breaker.threshold, halfOpenAfterMs: ai.breaker.halfOpenAfterMs },
    timeoutMs: ai.requestTimeoutMs,
    fallbacks,
    isolatedRetryAfterMs: config.flags.recheckMs,
  };
}
