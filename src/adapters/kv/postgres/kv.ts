import { SluiceError } from "../../../core/errors.ts";
import { KV_TTL_MISSING, KV_TTL_NONE, type Kv, type SetIfAbsentResult } from "../../../ports/kv.ts";
import type { Store } from "../../../ports/store.ts";
import { escapeGlob, escapeLike, globToRegex, resolveTtl } from "../common.ts";
import * as sql from "./sql.ts";

export interface PostgresKvOptions {
  /** The SQL store (PGlite or a PostgreSQL server) holding `kv_entries`; migrations must have run. */
  store: Store;
  /** Prepended to every key and pattern. @default "" */
  keyPrefix?: string;
  /** Least time between two background sweeps of expired rows, started by writes. @default 60000 */
  sweepIntervalMs?: number;
  /** Most expired rows one sweep removes. @default 1000 */
  sweepBatch?: number;
}

export type PostgresKv = Kv & {
  readonly kind: "postgres";
  /** Removes up to `limit` expired rows now; returns how many. Writes also start this in the background. */
  sweepExpired(limit?: number): Promise<number>;
};

const DELETE_BATCH = 1_000;
// A row can expire or be deleted between losing the insert and reading it; then try again.
const SET_IF_ABSENT_ATTEMPTS = 5;

/**
 * The Kv port on the SQL store, for deployments without Redis. Expired rows are filtered out of
 * every read at once and deleted lazily by a sweep that writes start at most once per interval.
 */
export function createPostgresKv(options: PostgresKvOptions): PostgresKv {
  const { store } = options;
  const prefix = options.keyPrefix ?? "";
  const sweepInterval = options.sweepIntervalMs ?? 60_000;
  const sweepBatch = options.sweepBatch ?? 1_000;
  const k = (key: string): string => prefix + key;
  let lastSweep = Date.now();
  let sweeping: Promise<unknown> | undefined;
  let closed = false;

  const sweepExpired = (limit = sweepBatch): Promise<number> => sql.deleteExpired(store, limit);

  function maybeSweep(): void {
    if (closed || sweeping || Date.now() - lastSweep < sweepInterval) return;
    lastSweep = Date.now();
    // Housekeeping only: a failed sweep is retried by a later write, never surfaced to this one.
    sweeping = sweepExpired()
      .catch(() => undefined)
      .finally(() => {
        sweeping = undefined;
      });
  }

  function match(pattern: string): sql.KeyMatch {
    const { regex, literalPrefix } = globToRegex(escapeGlob(prefix) + pattern);
    return { like: `${escapeLike(literalPrefix)}%`, regex };
  }

  async function setIfAbsent(key: string, value: string, ttl: number | undefined): Promise<SetIfAbsentResult> {
    for (let attempt = 0; attempt < SET_IF_ABSENT_ATTEMPTS; attempt += 1) {
      if (await sql.insertIfAbsent(store, k(key), value, ttl)) return { won: true };
      const existing = await sql.selectValue(store, k(key));
      if (existing !== null) return { won: false, existing };
    }
    throw new SluiceError("CONFLICT", `Kv key ${key} kept changing under setIfAbsent`, { retryable: true });
  }

  return {
    kind: "postgres",
    sweepExpired,
    get: (key) => sql.selectValue(store, k(key)),
    async set(key, value, opts) {
      await sql.upsertValue(store, k(key), value, resolveTtl(opts));
      maybeSweep();
    },
    async setIfAbsent(key, value, opts) {
      const result = await setIfAbsent(key, value, resolveTtl(opts));
      maybeSweep();
      return result;
    },
    delete: (key) => sql.deleteKey(store, k(key)),
    replaceIfValue: (key, expected, value) => sql.replaceValue(store, k(key), expected, value),
    async ttl(key) {
      const ttl = await sql.selectTtl(store, k(key));
      if (!ttl) return KV_TTL_MISSING;
      return ttl.forever ? KV_TTL_NONE : ttl.seconds;
    },
    async deleteByPattern(pattern) {
      const m = match(pattern);
      let live = 0;
      for (;;) {
        const batch = await sql.deleteMatching(store, m, DELETE_BATCH);
        live += batch.live;
        if (batch.removed < DELETE_BATCH) return live;
      }
    },
    countByPattern: (pattern) => sql.countMatching(store, match(pattern)),
    ping: () => store.ping(),
    async close() {
      closed = true;
      await sweeping;
    },
  };
}
