import { inject } from "vitest";
import { createDatabase, uniqueName } from "./servers.ts";

/** A new, empty database on the run's PostgreSQL server. */
export function freshPostgresDatabase(prefix = "t"): Promise<string> {
  return createDatabase(inject("postgresUrl"), uniqueName(prefix));
}

/**
 * The run's Redis server, with a logical database chosen by the caller (0-63). Test files run two at
 * a time on one server: a file that pauses queues, runs workers or counts keys needs a database no
 * other file uses. Taken: 0 (many, nothing global), 2 shutdown-abandon's stall test, 3, 4 jobs-api; 8 auth throttle; 9 backfill-wire;
 * 10 audit-first; 11 intake-claim-faults; 12 shutdown-abandon; 13 http-fuzz; 14 fleet reports; 15 read limits.
 * 16-19 pipelines/runs, 20-23 actions/approvals/schedules, 24-25 operator scope, 26-27 webhooks, 28-29 packaging, 30-31 ops.
 * Reserved for work in progress: 32-35 runs follow-up, 36-39 queue groups/workers, 40-43 logs/doctor, 44-47 embedded performance.
 * 56 the doctor's checks on real state (ops-doctor-real-state), 57 runbook-pg-restore, 60-62 runs-stalled, 63 runs-lease.
 */
export function redisUrl(db = 0): string {
  return `${inject("redisUrl")}/${db}`;
}

export interface TestEngine {
  name: string;
  env: () => Promise<Record<string, string>>;
}

/**
 * The two set-ups most HTTP tests run on: the embedded default, and PostgreSQL + Redis (logical
 * database `redisDb`, a fresh PostgreSQL database named after `prefix`; no pgvector on Debian).
 */
export function embeddedAndServers(prefix: string, redisDb: number): TestEngine[] {
  return [
    { name: "embedded PGlite", env: async () => ({}) },
    {
      name: "PostgreSQL + Redis",
      env: async () => ({
        REDIS_URL: redisUrl(redisDb),
        DATABASE_URL: await freshPostgresDatabase(prefix),
        VECTOR_SEARCH_ENABLED: "false",
      }),
    },
  ];
}
