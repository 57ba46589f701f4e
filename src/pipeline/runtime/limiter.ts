import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { LimitCounters } from "../../ports/limits.ts";
import { RateLimitedError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { ProviderRuntimeLimits, Route, RouteLimits, RuntimeClock } from "./types.ts";

/**
 * Requests/min and tokens/min per route, on rate-limiter-flexible: in Redis (or Postgres) every
 * worker process shares one budget; in memory each process has its own. A call that finds no
 * capacity waits for the window to turn instead of failing.
 */

interface Budget {
  limiter: RateLimiterAbstract;
  /** Points per window; a single charge never exceeds it (or it could never fit). */
  points: number;
}

interface RouteBudgets {
  requests: Budget | undefined;
  tokens: Budget | undefined;
  accounting: "usage" | "reserved";
}

export interface LimiterDeps {
  limits: ProviderRuntimeLimits;
  counters: LimitCounters;
  clock: RuntimeClock;
  random: () => number;
  logger: Logger;
  /**
   * Longest a call waits in-process for a route paused by a provider's Retry-After; a longer pause
   * refuses the call at once with `RATE_LIMITED` (the retry's `maxRetryAfterMs`). @default limits.maxWaitMs
   */
  maxPauseWaitMs?: number;
}

interface Admission {
  /** Tokens charged up front, to correct once usage is known. */
  tokens: number;
  /** Time spent waiting for capacity. */
  waitedMs: number;
}

export interface RouteLimiter {
  /** Waits until the route has a request and `estimatedTokens` to spare, then charges them. */
  admit(route: Route, estimatedTokens: number, signal?: AbortSignal): Promise<Admission>;
  /** Corrects the token charge to what the call really used (fire and forget). */
  settle(route: Route, admission: Admission, usedTokens: number): void;
  /** Makes every caller on this route (in every process sharing Redis) wait `ms`. */
  pause(route: Route, ms: number): void;
}

const key = (route: Route): string => `${route.provider}/${route.model}`;

/** A per-minute limit as points per window: the window grows for limits below one per window. */
export function windowFor(perMinute: number, windowSeconds: number): { points: number; seconds: number } {
  let seconds = windowSeconds;
  let points = Math.floor((perMinute * seconds) / 60);
  if (points < 1) {
    seconds = Math.ceil(60 / perMinute);
    points = Math.max(1, Math.floor((perMinute * seconds) / 60));
  }
  return { points, seconds };
}

export function createRouteLimiter(deps: LimiterDeps): RouteLimiter {
  const { limits, counters, clock, random, logger } = deps;
  const windowSeconds = limits.windowSeconds ?? 10;
  const maxWaitMs = limits.maxWaitMs ?? 300_000;
  const maxPauseWaitMs = deps.maxPauseWaitMs ?? maxWaitMs;
  const prefix = limits.keyPrefix ?? "sluice:ratelimit";
  const unlimited = new Set(limits.unlimitedProviders ?? ["local"]);
  const budgets = new Map<string, RouteBudgets>();
  const pausedUntil = new Map<string, number>();

  function budget(kind: "rpm" | "tpm", perMinute: number | undefined): Budget | undefined {
    if (!perMinute || perMinute <= 0) return undefined;
    const { points, seconds } = windowFor(perMinute, windowSeconds);
    const keyPrefix = `${prefix}:${kind}`;
    // If the shared store errors, each process keeps limiting on its own rather than stopping all calls.
    const insurance = counters.kind === "memory" ? undefined : new RateLimiterMemory({ points, duration: seconds, keyPrefix });
    return { limiter: counters.limiter({ points, durationSeconds: seconds, keyPrefix, ...(insurance ? { insurance } : {}) }), points };
  }

  function routeBudgets(route: Route): RouteBudgets {
    const k = key(route);
    let found = budgets.get(k);
    if (!found) {
      const spec: RouteLimits = limits.routes?.[k] ?? (unlimited.has(route.provider) ? {} : (limits.default ?? {}));
      found = { requests: budget("rpm", spec.rpm), tokens: budget("tpm", spec.tpm), accounting: spec.tokenAccounting ?? "usage" };
      budgets.set(k, found);
    }
    return found;
  }

  async function take(b: Budget, route: Route, points: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      try {
        await b.limiter.consume(key(route), points);
        return;
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        // A little jitter so waiters in many processes don't all retry on the same millisecond.
        const wait = rejection.msBeforeNext + Math.floor(random() * 25);
        if (clock.now() + wait > deadline) {
          throw new RateLimitedError(wait, `No capacity on ${key(route)} within ${maxWaitMs} ms`, {
            details: { ...route, scope: "sluice-limit" },
          });
        }
        await clock.sleep(wait, signal);
      }
    }
  }

  async function waitForPause(route: Route, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const until = pausedUntil.get(key(route)) ?? 0;
    const wait = until - clock.now();
    if (wait <= 0) return;
    if (wait > maxPauseWaitMs || clock.now() + wait > deadline)
      throw new RateLimitedError(wait, `${key(route)} is paused by the provider's Retry-After`, {
        details: { ...route, scope: "provider-pause" },
      });
    await clock.sleep(wait, signal);
  }

  return {
    async admit(route, estimatedTokens, signal) {
      const started = clock.now();
      const deadline = started + maxWaitMs;
      await waitForPause(route, deadline, signal);
      const { requests, tokens } = routeBudgets(route);
      if (requests) await take(requests, route, 1, deadline, signal);
      const charge = tokens ? Math.max(1, Math.min(tokens.points, Math.ceil(estimatedTokens))) : 0;
      if (tokens) await take(tokens, route, charge, deadline, signal);
      return { tokens: charge, waitedMs: clock.now() - started };
    },
    settle(route, admission, usedTokens) {
      const { tokens, accounting } = routeBudgets(route);
      if (!tokens) return;
      const diff = Math.ceil(usedTokens) - admission.tokens;
      if (diff === 0 || (diff < 0 && accounting === "reserved")) return;
      const correction = diff > 0 ? tokens.limiter.penalty(key(route), diff) : tokens.limiter.reward(key(route), -diff);
      correction.catch((err: unknown) => logger.warn({ err, route: key(route) }, "token limit correction failed"));
    },
    pause(route, ms) {
      const k = key(route);
      pausedUntil.set(k, Math.max(pausedUntil.get(k) ?? 0, clock.now() + ms));
      const { requests } = routeBudgets(route);
      // rate-limiter-flexible blocks in whole seconds; shorter pauses stay in this process.
      if (requests && ms >= 1000) {
        requests.limiter.block(k, Math.ceil(ms / 1000)).catch((err: unknown) => logger.warn({ err, route: k }, "limit pause failed"));
      }
    },
  };
}
