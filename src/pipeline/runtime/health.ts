import type { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Provider, ProviderRateLimitInfo } from "../../ports/provider.ts";
import type { Breakers } from "./breakers.ts";
import type { ProviderRuntimeOptions, Route, RuntimeClock, RuntimeHealth } from "./types.ts";

/**
 * What `/health/llm` shows: whether the default route or a fallback can take calls, every
 * breaker, the last provider error, and the budget providers last reported. With Redis, the
 * reported remaining requests are also kept at `{provider}:rate_limit:remaining` (60 s TTL),
 * the key runbook 003 reads with `redis-cli GET "anthropic:rate_limit:remaining"`.
 */

// Under the health registry's own 3 s bound, so a hung provider shows as not ok rather than a timeout.
const PROBE_TIMEOUT_MS = 2_500;
const PUBLISH_EVERY_MS = 1_000;

export interface HealthDeps {
  options: ProviderRuntimeOptions;
  providers: Map<string, Provider>;
  breakers: Breakers;
  clock: RuntimeClock;
  logger: Logger;
}

type RateLimitEntry = RuntimeHealth["rateLimits"][number];

export function rateLimitKey(provider: string): string {
  return `${provider}:rate_limit:remaining`;
}

export function createRuntimeHealth(deps: HealthDeps) {
  const { options, providers, breakers, clock, logger } = deps;
  let lastError: RuntimeHealth["lastError"] = null;
  const rateLimits = new Map<string, RateLimitEntry>();
  const lastPublished = new Map<string, number>();

  function publish(provider: string, remaining: number): void {
    const kv = options.publishTo;
    const now = clock.now();
    if (!kv || now - (lastPublished.get(provider) ?? 0) < PUBLISH_EVERY_MS) return;
    lastPublished.set(provider, now);
    kv.set(rateLimitKey(provider), String(remaining), { ttlSeconds: 60 }).catch((err: unknown) =>
      logger.debug({ err }, "could not publish provider rate limit"),
    );
  }

  async function probe(provider: Provider) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), PROBE_TIMEOUT_MS);
    try {
      return { provider: provider.name, ...(await provider.health(controller.signal)) };
    } finally {
      clearTimeout(timer);
    }
  }

  function canServe(route: Route, probes: RuntimeHealth["probes"]): boolean {
    if (!providers.has(route.provider)) return false;
    if (breakers.refuses(route)) return false;
    return probes?.find((p) => p.provider === route.provider)?.ok ?? true;
  }

  return {
    recordError(route: Route, err: SluiceError): void {
      lastError = {
        code: err.code,
        message: err.message,
        provider: route.provider,
        model: route.model,
        at: new Date(clock.now()).toISOString(),
      };
    },
    recordRateLimit(route: Route, info: ProviderRateLimitInfo): void {
      const entry: RateLimitEntry = { provider: route.provider, model: route.model, at: new Date(clock.now()).toISOString() };
      rateLimits.set(`${route.provider}/${route.model}`, {
        ...entry,
        remainingRequests: info.remainingRequests,
        remainingTokens: info.remainingTokens,
      });
      if (info.remainingRequests !== undefined) publish(route.provider, info.remainingRequests);
    },
    async report(reportOptions: { probe?: boolean } = {}): Promise<RuntimeHealth> {
      const primary: Route = { provider: options.defaults.provider, model: options.defaults.model };
      const fallbacks = options.fallbacks ?? [];
      const probes = reportOptions.probe ? await Promise.all([...providers.values()].map(probe)) : undefined;
      const known = breakers.snapshot();
      const breakerList = known.some((b) => b.provider === primary.provider && b.model === primary.model)
        ? known
        : [{ ...primary, state: breakers.state(primary) }, ...known];
      return {
        available: [primary, ...fallbacks].some((route) => canServe(route, probes)),
        primary,
        fallbacks,
        breakers: breakerList,
        lastError,
        rateLimits: [...rateLimits.values()],
        ...(probes ? { probes } : {}),
      };
    },
  };
}
