import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type pg from "pg";
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { RateLimitedError, SluiceError } from "../../core/errors.ts";
import type { Kv } from "../../ports/kv.ts";
import type { Store } from "../../ports/store.ts";

/**
 * Where the per-workspace counters live. `redis` and `postgres` are shared by every process;
 * `memory` counts per process, which is right only for embedded mode (one process on PGlite).
 */
export type RateLimitBackend = { kind: "redis"; client: Redis } | { kind: "postgres"; pool: pg.Pool } | { kind: "memory" };

/** The state of a workspace's window after an allowed request (for X-RateLimit-* headers). */
export interface RateLimitDecision {
  limit: number;
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

export interface WorkspaceRateLimiterOptions {
  backend: RateLimitBackend;
  /** Requests per window for a workspace without its own limit (RATE_LIMIT_PER_MINUTE). @default 100 */
  defaultLimit?: number;
  /** The workspace's own limit (workspaces.rate_limit_per_minute), or null/undefined for the default. */
  lookupLimit?: (workspace: string) => Promise<number | null | undefined>;
  /** How long a looked-up limit is trusted before it is read again. @default 5000 */
  limitCacheTtlMs?: number;
  /** Window length; limits are "per minute" at the default. @default 60 */
  windowSeconds?: number;
  /** Prefix of the counter keys (Redis keys and `rate_limits` rows are `{prefix}:{workspace}`). @default "ai:ratelimit" */
  keyPrefix?: string;
}

export interface WorkspaceRateLimiter {
  readonly backend: RateLimitBackend["kind"];
  /** Counts one request; throws RateLimitedError (429, with retryAfterMs) once the window is used up. */
  consume(workspace: string): Promise<RateLimitDecision>;
  /** The limit in force for the workspace. */
  limitFor(workspace: string): Promise<number>;
  /** Forgets a cached per-workspace limit (after changing it). */
  forgetLimit(workspace: string): void;
}

export const DEFAULT_RATE_LIMIT_PER_MINUTE = 100;

/** The `Retry-After` header value for a wait: whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1_000));
}

/** A fixed-window limiter on the chosen counter store (the `rate_limits` table comes from migrations, so no request path runs DDL). */
export function makeLimiter(backend: RateLimitBackend, points: number, duration: number, keyPrefix: string): RateLimiterAbstract {
  const base = { points, duration, keyPrefix };
  switch (backend.kind) {
    case "redis":
      return new RateLimiterRedis({ ...base, storeClient: backend.client });
    case "postgres":
      // The table comes from migrations/0003_intake.sql, so no request path runs DDL.
      return new RateLimiterPostgres({ ...base, storeClient: backend.pool, storeType: "pool", tableName: "rate_limits", tableCreated: true });
    case "memory":
      return new RateLimiterMemory(base);
  }
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
    if (!limiter) limiters.set(points, (limiter = makeLimiter(options.backend, points, windowSeconds, keyPrefix)));
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
    backend: options.backend.kind,
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

/**
 * Picks the counter store: the Kv's Redis when intake runs on Redis; the PostgreSQL server's pool
 * when that is the store; else memory (embedded PGlite, one process).
 */
export function resolveRateLimitBackend(deps: { store: Store; kv: Kv }): RateLimitBackend {
  const { store, kv } = deps;
  if (kv.kind === "redis" && "client" in kv) return { kind: "redis", client: kv.client as Redis };
  if (store.kind === "postgres" && "pool" in store) return { kind: "postgres", pool: store.pool as pg.Pool };
  return { kind: "memory" };
}
