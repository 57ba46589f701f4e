import type pg from "pg";
import { RateLimiterPostgres } from "rate-limiter-flexible";
import type { LimitCounters } from "../../../ports/limits.ts";

/** Counters in the `rate_limits` table of the PostgreSQL server, shared by every process. */
export function createPostgresLimitCounters(pool: pg.Pool): LimitCounters {
  return {
    kind: "postgres",
    limiter: (spec) =>
      new RateLimiterPostgres({
        storeClient: pool,
        storeType: "pool",
        // migrations/0003_intake.sql creates the table, so no request path runs DDL.
        tableName: "rate_limits",
        tableCreated: true,
        points: spec.points,
        duration: spec.durationSeconds,
        keyPrefix: spec.keyPrefix,
        ...(spec.insurance ? { insuranceLimiter: spec.insurance } : {}),
      }),
  };
}
