import type { FleetReports } from "../../ports/fleet-reports.ts";
import type { Queryable } from "../../ports/store.ts";

export interface SqlFleetReportsOptions {
  /** The SQL store (PGlite or a PostgreSQL server); migrations must have run. */
  store: Queryable;
  /** @default "sluice:fleet" */
  keyPrefix?: string;
}

/**
 * Fleet reports on the SQL store, for deployments without Redis: rows of `kv_entries`
 * (migrations/0003_intake.sql) keyed `{prefix}:{topic}:{reporter}`, so they expire like every other
 * kv row (the database's `now()` judges, and the kv sweep reclaims them). Reading is one prefix scan
 * of the table's primary key; publishing also removes its topic's expired rows.
 */
export function createSqlFleetReports(options: SqlFleetReportsOptions): FleetReports {
  const { store } = options;
  const prefix = options.keyPrefix ?? "sluice:fleet";
  const topicPrefix = (topic: string): string => `${prefix}:${topic}:`;
  // LIKE on the literal prefix: escape its wildcards.
  const like = (topic: string): string => `${topicPrefix(topic).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return {
    async publish(topic, reporter, body, ttlSeconds) {
      await store.query(
        `INSERT INTO kv_entries (key, value, expires_at) VALUES ($1, $2, now() + $3::int * interval '1 second')
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
        [topicPrefix(topic) + reporter, body, ttlSeconds],
      );
      await store.query(`DELETE FROM kv_entries WHERE key LIKE $1 AND expires_at <= now()`, [like(topic)]);
    },
    async read(topic) {
      const { rows } = await store.query<{ key: string; value: string }>(
        `SELECT key, value FROM kv_entries WHERE key LIKE $1 AND expires_at > now()`,
        [like(topic)],
      );
      return rows.map((row) => ({ reporter: row.key.slice(topicPrefix(topic).length), body: row.value }));
    },
    async withdraw(topic, reporter) {
      await store.query(`DELETE FROM kv_entries WHERE key = $1`, [topicPrefix(topic) + reporter]);
    },
  };
}
