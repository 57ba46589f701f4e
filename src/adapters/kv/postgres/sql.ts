import type { Queryable } from "../../../ports/store.ts";

/**
 * Every statement of the SQL Kv, on the `kv_entries` table (migrations/0003_intake.sql). Time is
 * the database's `now()`, so many processes agree on expiry whatever their clocks say.
 */
const LIVE = "(expires_at IS NULL OR expires_at > now())";
// $n NULL -> expires_at NULL (never expires).
const EXPIRY = (n: number): string => `now() + $${n}::int * interval '1 second'`;

export async function selectValue(db: Queryable, key: string): Promise<string | null> {
  const { rows } = await db.query<{ value: string }>(`SELECT value FROM kv_entries WHERE key = $1 AND ${LIVE}`, [key]);
  return rows[0]?.value ?? null;
}

export async function upsertValue(db: Queryable, key: string, value: string, ttl: number | undefined): Promise<void> {
  await db.query(
    `INSERT INTO kv_entries (key, value, expires_at) VALUES ($1, $2, ${EXPIRY(3)})
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
    [key, value, ttl ?? null],
  );
}

/**
 * Inserts, or takes over an expired row; returns whether it stored the value. ON CONFLICT waits for
 * a concurrent inserter to commit and then re-checks its row, so of N racing callers one wins.
 */
export async function insertIfAbsent(db: Queryable, key: string, value: string, ttl: number | undefined): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO kv_entries (key, value, expires_at) VALUES ($1, $2, ${EXPIRY(3)})
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
       WHERE kv_entries.expires_at IS NOT NULL AND kv_entries.expires_at <= now()
     RETURNING 1 AS won`,
    [key, value, ttl ?? null],
  );
  return rows.length > 0;
}

/** Deletes the row (live or expired); true only when a live one went. */
export async function deleteKey(db: Queryable, key: string): Promise<boolean> {
  const { rows } = await db.query<{ live: boolean }>(`DELETE FROM kv_entries WHERE key = $1 RETURNING ${LIVE} AS live`, [key]);
  return rows.some((r) => r.live);
}

/** Compare-and-set on a live row, leaving `expires_at` as it is; true when it replaced the value. */
export async function replaceValue(db: Queryable, key: string, expected: string, value: string): Promise<boolean> {
  const { rows } = await db.query(`UPDATE kv_entries SET value = $3 WHERE key = $1 AND value = $2 AND ${LIVE} RETURNING 1 AS replaced`, [
    key,
    expected,
    value,
  ]);
  return rows.length > 0;
}

/** `null` when absent or expired; `forever` when it has no expiry; else seconds rounded like Redis. */
export async function selectTtl(db: Queryable, key: string): Promise<{ forever: boolean; seconds: number } | null> {
  const { rows } = await db.query<{ forever: boolean; seconds: number | null }>(
    `SELECT expires_at IS NULL AS forever, round(extract(epoch FROM expires_at - now()))::int AS seconds
     FROM kv_entries WHERE key = $1 AND ${LIVE}`,
    [key],
  );
  const row = rows[0];
  return row ? { forever: row.forever, seconds: row.seconds ?? 0 } : null;
}

export interface KeyMatch {
  /** LIKE pattern on the literal prefix: lets the (COLLATE "C") primary key narrow the scan. */
  like: string;
  /** Anchored regular expression for the full glob. */
  regex: string;
}

export async function countMatching(db: Queryable, match: KeyMatch): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*) AS n FROM kv_entries WHERE key LIKE $1 AND key ~ $2 AND ${LIVE}`, [
    match.like,
    match.regex,
  ]);
  return rows[0]?.n ?? 0;
}

/** Deletes up to `limit` matching rows (expired ones included); returns rows removed and live ones among them. */
export async function deleteMatching(db: Queryable, match: KeyMatch, limit: number): Promise<{ removed: number; live: number }> {
  const { rows } = await db.query<{ live: boolean }>(
    `DELETE FROM kv_entries WHERE key IN (
       SELECT key FROM kv_entries WHERE key LIKE $1 AND key ~ $2 LIMIT $3)
     RETURNING ${LIVE} AS live`,
    [match.like, match.regex, limit],
  );
  return { removed: rows.length, live: rows.filter((r) => r.live).length };
}

/** Removes up to `limit` expired rows; returns how many. */
export async function deleteExpired(db: Queryable, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM kv_entries WHERE key IN (
       SELECT key FROM kv_entries WHERE expires_at <= now() LIMIT $1)`,
    [limit],
  );
  return rowCount;
}
