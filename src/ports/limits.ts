import type { RateLimiterAbstract, RateLimiterMemory } from "rate-limiter-flexible";

type LimitCountersKind = "redis" | "postgres" | "memory";

interface CounterSpec {
  /** Points per window. */
  points: number;
  durationSeconds: number;
  /** Counter keys are `{keyPrefix}:{key}`: one prefix per kind of limit. */
  keyPrefix: string;
  /** Counts per process while the shared store errors, rather than stopping every call. */
  insurance?: RateLimiterMemory;
}

/**
 * Where rate-limit counters live, chosen once at the root and used by every limit Sluice keeps:
 * per-workspace intake and read budgets, the failed-authentication throttle, and the provider
 * RPM/TPM limits. `redis` and `postgres` are shared by every process, so N workers hold one limit
 * together; `memory` counts per process, which is right only for embedded mode (one process).
 */
export interface LimitCounters {
  readonly kind: LimitCountersKind;
  /** A fixed-window limiter (rate-limiter-flexible) whose counts live in this store. */
  limiter(spec: CounterSpec): RateLimiterAbstract;
}
