import pg from "pg";
import type { QueryResult, Store, StoreTransaction } from "../../../ports/store.ts";
import { translateStoreError } from "../translate-error.ts";

const INT8_OID = 20;
const NUMERIC_OID = 1700;

// Per pool, not pg's global parsers: BullMQ's own pool in this process expects int8 as text.
const types: pg.CustomTypesConfig = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

async function execScript(client: pg.Pool | pg.PoolClient, sql: string): Promise<void> {
  try {
    // No parameters: the simple protocol, which runs several statements (and returns an array).
    await client.query(sql);
  } catch (err) {
    throw translateStoreError(err);
  }
}

async function run<R>(client: pg.Pool | pg.PoolClient, sql: string, params: readonly unknown[] | undefined): Promise<QueryResult<R>> {
  try {
    const result = await client.query(sql, params as unknown[] | undefined);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
  } catch (err) {
    throw translateStoreError(err);
  }
}

export interface PgStoreOptions {
  connectionString: string;
  /** Pool size. @default 10 */
  poolSize?: number;
  /** Application name shown in pg_stat_activity. @default "sluice" */
  applicationName?: string;
}

export function createPgStore(options: PgStoreOptions): Store & { readonly pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? "sluice",
    types,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client's error (server restart) must not crash the process; the next query reports it.
  pool.on("error", () => undefined);
  // pg-pool takes its error listener off a client it hands out: one dropped between two statements of
  // a transaction would emit 'error' to nobody and crash the process. Its next statement reports it.
  pool.on("connect", (client) => client.on("error", () => undefined));
  let closed = false;
  return {
    kind: "postgres",
    pool,
    query: (sql, params) => run(pool, sql, params),
    exec: (sql) => execScript(pool, sql),
    async transaction(fn) {
      const client = await pool.connect().catch((err: unknown) => {
        throw translateStoreError(err);
      });
      try {
        await client.query("BEGIN");
        const tx: StoreTransaction = {
          query: (sql, params) => run(client, sql, params),
          exec: (sql) => execScript(client, sql),
        };
        const result = await fn(tx);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw translateStoreError(err);
      } finally {
        client.release();
      }
    },
    async ping() {
      await run(pool, "SELECT 1", []);
    },
    async hasVectorExtension() {
      const { rows } = await run<{ n: number }>(pool, "SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'vector'", []);
      return (rows[0]?.n ?? 0) > 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
