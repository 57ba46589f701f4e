import { RateLimitedError } from "../../core/errors.ts";
import type { LimitCounters } from "../../ports/limits.ts";

/**
 * Counts wrong API keys per client address. A key has ~238 bits, so guessing is hopeless, but a
 * flood of wrong keys still costs lookups and slows every valid caller: past the limit, an address
 * is refused (429) before its key is even hashed, until its window ends.
 */
export interface AuthThrottle {
  /** Throws RATE_LIMITED (429, with retryAfterMs) while `client` is over its limit of failures. */
  assertAllowed(client: string): Promise<void>;
  /** Counts one wrong key from `client`. */
  recordFailure(client: string): Promise<void>;
}

const WINDOW_SECONDS = 60;

export function createAuthThrottle(counters: LimitCounters, failuresPerMinute: number): AuthThrottle {
  const limiter = counters.limiter({ points: failuresPerMinute, durationSeconds: WINDOW_SECONDS, keyPrefix: "ai:authfail" });
  return {
    async assertAllowed(client) {
      // A counter store that is down must not lock everyone out: authentication itself still runs.
      const res = await limiter.get(client).catch(() => null);
      if (res && res.consumedPoints >= failuresPerMinute) {
        const retryAfterMs = Math.max(res.msBeforeNext, 1_000);
        throw new RateLimitedError(
          retryAfterMs,
          `Too many wrong API keys from this address; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
          {
            details: { reason: "auth_failures", limit: failuresPerMinute, windowSeconds: WINDOW_SECONDS },
          },
        );
      }
    },
    async recordFailure(client) {
      // penalty() counts without throwing when the limit is passed; the next request meets assertAllowed.
      await limiter.penalty(client, 1).catch(() => undefined);
    },
  };
}
