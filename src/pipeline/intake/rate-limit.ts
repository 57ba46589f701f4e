import { LRUCache } from "lru-cache";
import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { RateLimitedError, SluiceError } from "../../core/errors.ts";
import type { LimitCounters } from "../../ports/limits.ts";

/** The state of a workspace's window after an allowed request (for X-RateLimit-* headers). */
export interface RateLimitDecision {
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

export interface WorkspaceRateLimiterOptions {
  counters: LimitCounters;
  /** Requests per window for a workspace without its own limit (RATE_LIMIT_PER_MINUTE). @default 100 */
  defaultLimit?: number;
  /** The workspace's own limit (workspaces.rate_limit_per_minute), or null/undefined for the default. */
  lookupLimit?: (workspace: string) => Promise<number | null | undefined>;
  /** How long a looked-up limit is trusted before it is read again. @default 5000 */
  limitCacheTtlMs?: number;
  /** Window length; limits are "per minute" at the default. @default 60 */
  windowSeconds?: number | undefined;
  /** Prefix of the counter keys (Redis keys and `rate_limits` rows are `{prefix}:{workspace}`). @default "ai:ratelimit" */
  keyPrefix?: string;
}

export interface WorkspaceRateLimiter {
  readonly backend: LimitCounters["kind"];
  /** Counts one request; throws RateLimitedError (429, with retryAfterMs) once the window is used up. */
  consume(workspace: string): Promise<RateLimitDecision>;
  /** The limit in force for the workspace. */
  limitFor(workspace: string): Promise<number>;
  /** Forgets a cached per-workspace limit (after changing it). */
  forgetLimit(workspace: string): void;
}

const DEFAULT_RATE_LIMIT_PER_MINUTE = 100;

/** The `Retry-After` header value for a wait: whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1_000));
}

/**
 * Per-workspace fixed-window limits on rate-limiter-flexible. Counters are keyed by workspace
 * only, so one limiter per distinct limit shares them: changing a workspace's limit keeps its count
 * (on the memory backend a changed limit starts a fresh count).
 */
export function createWorkspaceRateLimiter(options: WorkspaceRateLimiterOptions): WorkspaceRateLimiter {
  const defaultLimit = options.defaultLimit ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
  const windowSeconds = options.windowSeconds ?? 60;
  const keyPrefix = options.keyPrefix ?? "ai:ratelimit";
  const limiters = new Map<number, RateLimiterAbstract>();
  const limits = new LRUCache<string, { limit: number }>({ max: 10_000, ttl: options.limitCacheTtlMs ?? 5_000 });

  const limiterFor = (points: number): RateLimiterAbstract => {
    let limiter = limiters.get(points);
    if (!limiter) limiters.set(points, (limiter = options.counters.limiter({ points, durationSeconds: windowSeconds, keyPrefix })));
    return limiter;
  };

  async function limitFor(workspace: string): Promise<number> {
    const cached = limits.get(workspace);
    if (cached) return cached.limit;
    const limit = (await options.lookupLimit?.(workspace)) ?? defaultLimit;
    limits.set(workspace, { limit });
    return limit;
  }

  return {
    backend: options.counters.kind,
    limitFor,
    forgetLimit: (workspace) => limits.delete(workspace),
    async consume(workspace) {
      const limit = await limitFor(workspace);
      try {
        const res = await limiterFor(limit).consume(workspace);
        return { limit, remaining: res.remainingPoints, resetMs: Math.max(res.msBeforeNext, 0) };
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          // At least one second: a 0 would tell clients to retry at once, into the same window.
          const retryAfterMs = Math.max(err.msBeforeNext, 1_000);
          throw new RateLimitedError(retryAfterMs, `Workspace ${workspace} is over its limit of ${limit} requests per ${windowSeconds} s`, {
            details: { workspace, limit, windowSeconds, retryAfterMs },
          });
        }
        throw new SluiceError("DEPENDENCY_UNAVAILABLE", `Rate limiter unavailable: ${(err as Error).message}`, { cause: err });
      }
    },
  };
}
