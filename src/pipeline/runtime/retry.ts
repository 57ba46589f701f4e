import { BrokenCircuitError, TaskCancelledError } from "cockatiel";
import { RateLimitedError, SluiceError } from "../../core/errors.ts";
import type { Route, RetryOptions } from "./types.ts";

/** Exponential backoff with full jitter: a random wait in [0, min(max, base * 2^(attempt-1))]. */
export function backoffDelayMs(attempt: number, options: Pick<RetryOptions, "baseDelayMs" | "maxDelayMs">, random: () => number): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The wait after a 429: what the provider asked for, plus up to 10 % (at most 250 ms) so the
 * callers it stopped don't all come back on the same millisecond.
 */
export function retryAfterDelayMs(retryAfterMs: number, random: () => number): number {
  return retryAfterMs + Math.floor(random() * Math.min(250, retryAfterMs * 0.1));
}

/**
 * The route's breaker is open (or isolated): skip to the next route at once. `retryAfterMs` is when
 * it may take a call again, so a queued job can wait for it rather than spend an attempt.
 */
export class RouteUnavailableError extends SluiceError {
  constructor(
    route: Route,
    cause: unknown,
    readonly retryAfterMs: number | undefined = undefined,
  ) {
    super("PROVIDER_UNAVAILABLE", `Circuit open for ${route.provider}/${route.model}`, {
      cause,
      details: { ...route, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    });
    this.name = "RouteUnavailableError";
  }
}

/** Every attempt on the route failed with a retryable error; `last` is the final one. */
export class AttemptsSpentError extends SluiceError {
  constructor(
    route: Route,
    readonly last: SluiceError,
    readonly attempts: number,
  ) {
    super("PROVIDER_UNAVAILABLE", `${route.provider}/${route.model} failed ${attempts} time(s): ${last.message}`, {
      cause: last,
      details: { ...route, attempts, lastCode: last.code },
    });
    this.name = "AttemptsSpentError";
  }
}

/**
 * Anything a call threw, as a Sluice error: cockatiel's timeout becomes PROVIDER_TIMEOUT, an
 * open circuit PROVIDER_UNAVAILABLE, anything unknown a retryable PROVIDER_ERROR. A caller's
 * own abort is passed through untouched.
 */
export function normalizeCallError(err: unknown, route: Route, timeoutMs: number, callerSignal: AbortSignal | undefined): unknown {
  if (callerSignal?.aborted) return callerSignal.reason ?? err;
  if (err instanceof SluiceError) return err;
  // instanceof, not cockatiel's isTaskCancelledError(): in 3.2.1 that helper tests the wrong property.
  if (err instanceof TaskCancelledError) {
    return new SluiceError("PROVIDER_TIMEOUT", `${route.provider}/${route.model} did not answer within ${timeoutMs} ms`, {
      cause: err,
      details: { ...route, timeoutMs },
    });
  }
  if (err instanceof BrokenCircuitError) return new RouteUnavailableError(route, err);
  const reason = err instanceof Error ? err.message : String(err);
  return new SluiceError("PROVIDER_ERROR", `${route.provider}/${route.model} failed: ${reason}`, { cause: err, details: { ...route } });
}

export type Outcome = "success" | "rate_limited" | "timeout" | "error" | "rejected" | "short_circuited" | "aborted";

export function outcomeOf(err: unknown): Outcome {
  if (err instanceof RouteUnavailableError) return "short_circuited";
  if (err instanceof RateLimitedError) return "rate_limited";
  if (err instanceof SluiceError) {
    if (err.code === "PROVIDER_TIMEOUT") return "timeout";
    return err.retryable ? "error" : "rejected";
  }
  return "aborted";
}
