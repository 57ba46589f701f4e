import type { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import type { LimitCounters } from "../../../ports/limits.ts";

/** Counters in the queue Redis (noeviction), shared by every process. */
export function createRedisLimitCounters(client: Redis): LimitCounters {
  return {
    kind: "redis",
    limiter: (spec) =>
      new RateLimiterRedis({
        storeClient: client,
        points: spec.points,
        duration: spec.durationSeconds,
        keyPrefix: spec.keyPrefix,
        ...(spec.insurance ? { insuranceLimiter: spec.insurance } : {}),
      }),
  };
}
