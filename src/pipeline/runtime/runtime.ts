import { timeout, TimeoutStrategy } from "cockatiel";
import { RateLimitedError, RetryLaterError, SluiceError } from "../../core/errors.ts";
import { estimateInputTokens, estimateTokens, type CompletionRequest, type EmbeddingRequest, type Provider } from "../../ports/provider.ts";
import { createBreakers } from "./breakers.ts";
import { callRoute, type RouteCall, type RouteCallDeps } from "./call-route.ts";
import { createRuntimeHealth } from "./health.ts";
import { createInstruments } from "./instruments.ts";
import { createRouteLimiter } from "./limiter.ts";
import { AttemptsSpentError, RouteUnavailableError } from "./retry.ts";
import type {
  BreakerOptions,
  CallMeta,
  CallOptions,
  ProviderRuntime,
  ProviderRuntimeOptions,
  RetryOptions,
  Route,
  RuntimeClock,
} from "./types.ts";

const DEFAULT_RETRY: RetryOptions = { maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 20_000, maxRetryAfterMs: 60_000 };
const DEFAULT_BREAKER: BreakerOptions = { threshold: 5, halfOpenAfterMs: 30_000 };
const RULE_ROUTE: Route = Object.freeze({ provider: "rule", model: "rule" });

const realClock: RuntimeClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      function onAbort(): void {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

const sameRoute = (a: Route, b: Route): boolean => a.provider === b.provider && a.model === b.model;

/**
 * The resilient path from a task to a provider: limits shared across processes, retries that
 * honour Retry-After, a per-attempt timeout, a circuit breaker per route, and a fallback chain
 * ending in the task's rule-based answer. It depends on no queue.
 */
export function createProviderRuntime(given: ProviderRuntimeOptions): ProviderRuntime {
  const providers = new Map<string, Provider>(given.providers.map((p) => [p.name, p]));
  const routeOf = (route: Route, kind: ModelKind): Route => ({
    provider: route.provider,
    model: providers.get(route.provider)?.ownModels?.[kind] ?? route.model,
  });
  const options = withOwnModels(given, routeOf);
  const logger = options.logger.child({ component: "provider-runtime" });
  const clock = options.clock ?? realClock;
  const random = options.random ?? Math.random;
  const instruments = createInstruments(options.metrics);
  const breakers = createBreakers({ ...DEFAULT_BREAKER, ...options.breaker }, instruments.breakerState, logger);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const health = createRuntimeHealth({ options, providers, breakers, clock, logger });
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...options.retry };
  const deps: RouteCallDeps = {
    limiter: createRouteLimiter({
      limits: options.limits ?? {},
      counters: options.limitCounters,
      clock,
      random,
      logger,
      maxPauseWaitMs: retry.maxRetryAfterMs,
    }),
    breakers,
    timeout: timeout(timeoutMs, TimeoutStrategy.Aggressive),
    timeoutMs,
    retry,
    isolatedRetryAfterMs: options.isolatedRetryAfterMs ?? 15_000,
    instruments,
    clock,
    random,
    logger,
    onError: (route, err) => health.recordError(route, err),
    onRateLimitInfo: (route, info) => health.recordRateLimit(route, info),
  };
  const { defaults } = options;
  const primaryRoute = (provider: string | undefined, model: string, kind: ModelKind): Route => {
    const name = provider ?? defaults.provider;
    if (!providers.has(name))
      throw new SluiceError("PROVIDER_NOT_CONFIGURED", `No AI provider named ${name} is configured`, {
        details: { provider: name, configured: [...providers.keys()] },
      });
    return routeOf({ provider: name, model }, kind);
  };

  /** Tries the routes in order, then the rule; each result says who served it. */
  async function serve<TReq, TRes extends object, TRule>(
    primary: Route,
    chain: readonly Route[],
    makeCall: (route: Route, provider: Provider) => RouteCall<TRes> | undefined,
    rule: { options: CallOptions<TReq, TRule>; request: TReq; toResult: (value: TRule) => TRes },
  ): Promise<TRes & CallMeta> {
    const routes = [primary, ...chain.filter((r, i) => !sameRoute(r, primary) && chain.findIndex((o) => sameRoute(o, r)) === i)];
    const failures: Error[] = [];
    let attempts = 0;
    for (const route of routes) {
      const provider = providers.get(route.provider);
      const call = provider ? makeCall(route, provider) : undefined;
      if (!call) continue;
      try {
        const { result, attempts: used } = await callRoute(deps, call);
        return finish(result, primary, route, attempts + used);
      } catch (err) {
        if (!(err instanceof RouteUnavailableError || err instanceof AttemptsSpentError)) throw err;
        attempts += err instanceof AttemptsSpentError ? err.attempts : 0;
        failures.push(err);
        logger.warn({ ...route, code: err.code, reason: err.message, task: rule.options.task }, "route unavailable, trying the next");
      }
    }
    const cause = failures.at(-1) ?? new SluiceError("PROVIDER_UNAVAILABLE", "No route can serve this call");
    if (rule.options.ruleFallback) {
      const value = await rule.options.ruleFallback(rule.request, cause);
      return finish(rule.toResult(value), primary, RULE_ROUTE, attempts);
    }
    throw exhausted(failures, routes, cause);
  }

  function finish<TRes extends object>(result: TRes, requested: Route, servedBy: Route, attempts: number): TRes & CallMeta {
    const fallback = !sameRoute(requested, servedBy);
    if (fallback)
      instruments.fallbacks.inc({
        provider: requested.provider,
        model: requested.model,
        served_by: `${servedBy.provider}/${servedBy.model}`,
      });
    return { ...result, fallback, servedBy, requested, attempts };
  }

  return {
    async complete(request, callOptions = {}) {
      const primary = primaryRoute(request.provider, request.model ?? defaults.model, "completion");
      const { provider: _p, model: _m, ...rest } = request;
      const base: CompletionRequest = {
        ...rest,
        model: primary.model,
        maxOutputTokens: request.maxOutputTokens ?? defaults.maxOutputTokens,
      };
      const estimate = estimateInputTokens(base) + base.maxOutputTokens;
      return serve(
        primary,
        (callOptions.fallbacks ?? options.fallbacks ?? []).map((r) => routeOf(r, "completion")),
        (route, provider) =>
          provider.capabilities.complete
            ? {
                route,
                estimatedTokens: estimate,
                usedTokens: (r) => r.usage.inputTokens + r.usage.outputTokens,
                invoke: (signal) => provider.complete({ ...base, model: route.model, signal }),
                signal: request.signal,
              }
            : undefined,
        { options: callOptions, request: base, toResult: (text) => ruleCompletion(base, text) },
      );
    },

    async embed(request, callOptions = {}) {
      const primary = primaryRoute(request.provider ?? defaults.embeddingProvider, request.model ?? defaults.embeddingModel, "embedding");
      const { provider: _p, model: _m, ...rest } = request;
      const base: EmbeddingRequest = { ...rest, model: primary.model };
      return serve(
        primary,
        (callOptions.fallbacks ?? options.embeddingFallbacks ?? []).map((r) => routeOf(r, "embedding")),
        (route, provider) =>
          provider.capabilities.embed || sameRoute(route, primary)
            ? {
                route,
                estimatedTokens: base.inputs.reduce((sum, t) => sum + estimateTokens(t), 0),
                usedTokens: (r) => r.usage.inputTokens,
                invoke: (signal) => provider.embed({ ...base, model: route.model, signal }),
                signal: request.signal,
              }
            : undefined,
        {
          options: callOptions,
          request: base,
          toResult: (vectors) => ({
            vectors,
            usage: { inputTokens: 0, outputTokens: 0 },
            model: RULE_ROUTE.model,
            provider: RULE_ROUTE.provider,
          }),
        },
      );
    },

    health: (healthOptions) => health.report(healthOptions),
    isolate: (route) => breakers.isolate(route),
    release: (route) => breakers.release(route),
    breakers: () => breakers.snapshot(),
    async close() {
      await Promise.all([...providers.values()].map((p) => p.close()));
    },
  };
}

type ModelKind = "completion" | "embedding";

/** Defaults and fallbacks named after the model that answers on providers that have their own (health reports them). */
function withOwnModels(options: ProviderRuntimeOptions, routeOf: (route: Route, kind: ModelKind) => Route): ProviderRuntimeOptions {
  const { defaults } = options;
  return {
    ...options,
    defaults: {
      ...defaults,
      model: routeOf({ provider: defaults.provider, model: defaults.model }, "completion").model,
      embeddingModel: routeOf({ provider: defaults.embeddingProvider ?? defaults.provider, model: defaults.embeddingModel }, "embedding")
        .model,
    },
    ...(options.fallbacks ? { fallbacks: options.fallbacks.map((r) => routeOf(r, "completion")) } : {}),
    ...(options.embeddingFallbacks ? { embeddingFallbacks: options.embeddingFallbacks.map((r) => routeOf(r, "embedding")) } : {}),
  };
}

function ruleCompletion(request: CompletionRequest, text: string) {
  return {
    text,
    usage: { inputTokens: estimateInputTokens(request), outputTokens: estimateTokens(text) },
    model: RULE_ROUTE.model,
    provider: RULE_ROUTE.provider,
    finishReason: "stop",
  };
}

/** When a route that refused a call will take one again; undefined when it really failed. */
const refusedForMs = (e: Error): number | undefined =>
  e instanceof RateLimitedError || e instanceof RouteUnavailableError ? e.retryAfterMs : undefined;

/**
 * Every route spent. When each one only refused for now (rate limited beyond the in-call wait,
 * breaker open, provider switched off), the error says when to come back, and the queue delays the
 * job without spending an attempt: a 429 everywhere stays a 429, else `PROVIDER_UNAVAILABLE` as a
 * RetryLaterError. A route that really failed (its attempts spent on errors) makes it a plain
 * `PROVIDER_UNAVAILABLE`, which spends the job's attempt.
 */
function exhausted(failures: readonly Error[], routes: readonly Route[], cause: Error): SluiceError {
  const lasts = failures.map((f) => (f instanceof AttemptsSpentError ? f.last : f));
  const waits = lasts.map(refusedForMs).filter((ms) => ms !== undefined);
  const messages = lasts.map((e) => e.message);
  if (lasts.length > 0 && waits.length === lasts.length) {
    const soonest = Math.min(...waits);
    if (lasts.every((e) => e instanceof RateLimitedError))
      return new RateLimitedError(soonest, `Every provider route is rate limited; retry after ${soonest} ms`, {
        cause,
        details: { routes },
      });
    return new RetryLaterError(
      "PROVIDER_UNAVAILABLE",
      soonest,
      `No provider route can take the call now (${cause.message}); retry after ${soonest} ms`,
      { cause, details: { routes, failures: messages } },
    );
  }
  return new SluiceError("PROVIDER_UNAVAILABLE", `No provider route could serve the call: ${cause.message}`, {
    cause,
    details: { routes, failures: messages },
  });
}
