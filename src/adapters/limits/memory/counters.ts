import { RateLimiterMemory } from "rate-limiter-flexible";
import type { LimitCounters } from "../../../ports/limits.ts";

/** Counters in this process's memory: embedded mode, where one process is the whole fleet. */
export function createMemoryLimitCounters(): LimitCounters {
  return {
    kind: "memory",
    limiter: (spec) => new RateLimiterMemory({ points: spec.points, duration: spec.durationSeconds, keyPrefix: spec.keyPrefix }),
  };
}
