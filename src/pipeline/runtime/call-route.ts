import type { TimeoutPolicy } from "cockatiel";
import { RateLimitedError, SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { ProviderRateLimitInfo } from "../../ports/provider.ts";
import type { Breakers } from "./breakers.ts";
import type { RuntimeInstruments } from "./instruments.ts";
import type { RouteLimiter } from "./limiter.ts";
import { AttemptsSpentError, backoffDelayMs, normalizeCallError, outcomeOf, retryAfterDelayMs, RouteUnavailableError } from "./retry.ts";
import type { RetryOptions, Route, RuntimeClock } from "./types.ts";

/**
 * One route, all its attempts: wait for capacity, call through breaker and timeout, correct the
 * token charge, and on a retryable error wait (Retry-After, or backoff with full jitter) and
 * go again until the attempts are spent.
 */

export interface RouteCallDeps {
  limiter: RouteLimiter;
  breakers: Breakers;
  timeout: TimeoutPolicy;
  timeoutMs: number;
  retry: RetryOptions;
  /** What a refusal by an isolated route (a provider switched off) says to wait. */
  isolatedRetryAfterMs: number;
  instruments: RuntimeInstruments;
  clock: RuntimeClock;
  random: () => number;
  logger: Logger;
  onError(route: Route, err: SluiceError): void;
  onRateLimitInfo(route: Route, info: ProviderRateLimitInfo): void;
}

export interface RouteCall<T> {
  route: Route;
  estimatedTokens: number;
  usedTokens(result: T): number;
  invoke(signal: AbortSignal): Promise<T>;
  signal: AbortSignal | undefined;
}

export interface RouteCallResult<T> {
  result: T;
  attempts: number;
}

/** Throws RouteUnavailableError (breaker open), AttemptsSpentError, or a non-retryable error. */
export async function callRoute<T extends { rateLimit?: ProviderRateLimitInfo | undefined }>(
  deps: RouteCallDeps,
  call: RouteCall<T>,
): Promise<RouteCallResult<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { result: await attemptOnce(deps, call), attempts: attempt };
    } catch (err) {
      const delay = retryDelay(deps, call.route, err, attempt);
      deps.instruments.retries.inc({ provider: call.route.provider, model: call.route.model });
      deps.logger.debug({ ...call.route, attempt, delayMs: delay, code: (err as SluiceError).code }, "retrying provider call");
      await deps.clock.sleep(delay, call.signal);
    }
  }
}

/** How long to wait before the next attempt, or throws when there is to be none. */
function retryDelay(deps: RouteCallDeps, route: Route, err: unknown, attempt: number): number {
  if (err instanceof RouteUnavailableError || !(err instanceof SluiceError) || !err.retryable) throw err;
  if (err instanceof RateLimitedError && scopeOf(err) === "sluice-limit") throw err;
  // Every caller of the route waits out the provider's Retry-After, also when this one leaves it to
  // the queue (a refusal by that pause itself needs no new one).
  if (err instanceof RateLimitedError && scopeOf(err) !== "provider-pause") deps.limiter.pause(route, err.retryAfterMs);
  if (attempt >= deps.retry.maxAttempts) {
    // Spent on errors that opened the route's breaker (these among them): the provider is down, not
    // this call's input, so the caller waits for the breaker like any refused call rather than fail.
    if (deps.breakers.refuses(route)) throw new RouteUnavailableError(route, err, unavailableForMs(deps, route));
    throw new AttemptsSpentError(route, err, attempt);
  }
  if (err instanceof RateLimitedError) {
    if (err.retryAfterMs > deps.retry.maxRetryAfterMs) throw new AttemptsSpentError(route, err, attempt);
    return retryAfterDelayMs(err.retryAfterMs, deps.random);
  }
  return backoffDelayMs(attempt, deps.retry, deps.random);
}

async function attemptOnce<T extends { rateLimit?: ProviderRateLimitInfo | undefined }>(
  deps: RouteCallDeps,
  call: RouteCall<T>,
): Promise<T> {
  const { route, signal } = call;
  const labels = { provider: route.provider, model: route.model };
  if (deps.breakers.refuses(route)) {
    deps.instruments.requests.inc({ ...labels, outcome: "short_circuited" });
    throw new RouteUnavailableError(route, undefined, unavailableForMs(deps, route));
  }
  const admission = await deps.limiter.admit(route, call.estimatedTokens, signal);
  if (admission.waitedMs > 0) deps.instruments.limiterWait.observe(labels, admission.waitedMs / 1000);
  const started = performance.now();
  try {
    const result = await deps.breakers.get(route).execute(async ({ signal: breakerSignal }) => {
      try {
        return await deps.timeout.execute(({ signal: attemptSignal }) => call.invoke(attemptSignal), breakerSignal);
      } catch (err) {
        throw normalizeCallError(err, route, deps.timeoutMs, signal);
      }
    }, signal);
    deps.instruments.latency.observe(labels, (performance.now() - started) / 1000);
    deps.instruments.requests.inc({ ...labels, outcome: "success" });
    deps.limiter.settle(route, admission, call.usedTokens(result));
    if (result.rateLimit) deps.onRateLimitInfo(route, result.rateLimit);
    return result;
  } catch (raw) {
    let err = normalizeCallError(raw, route, deps.timeoutMs, signal);
    // Refused inside cockatiel (a half-open trial is running): say when to look again.
    if (err instanceof RouteUnavailableError && err.retryAfterMs === undefined)
      err = new RouteUnavailableError(route, err.cause, unavailableForMs(deps, route));
    const outcome = outcomeOf(err);
    if (outcome !== "short_circuited") deps.instruments.latency.observe(labels, (performance.now() - started) / 1000);
    deps.instruments.requests.inc({ ...labels, outcome });
    // The provider did not count a refused or short-circuited call against its limits.
    if (outcome === "rate_limited" || outcome === "short_circuited" || outcome === "rejected") deps.limiter.settle(route, admission, 0);
    if (err instanceof SluiceError && outcome !== "short_circuited") deps.onError(route, err);
    throw err;
  }
}

const scopeOf = (err: RateLimitedError): string | undefined => (err.details as { scope?: string } | undefined)?.scope;

/** How long a refusing route will go on refusing: the breaker's half-open time, or the kill-switch recheck while isolated. */
function unavailableForMs(deps: RouteCallDeps, route: Route): number {
  return deps.breakers.retryAfterMs(route) ?? deps.isolatedRetryAfterMs;
}
