import type { PGlite, SerializerOptions, Transaction } from "@electric-sql/pglite";
import type { QueryResult, Store, StoreTransaction } from "../../../ports/store.ts";
import { translateStoreError } from "../translate-error.ts";
import { openPglite } from "./open.ts";
import { checkedSerializers, yieldToEventLoop } from "./query-options.ts";
import { gateFor } from "./statement-gate.ts";

const INT8_OID = 20;
const NUMERIC_OID = 1700;
// Per query, not on the instance: the queue backend shares this PGlite and expects int8 as text.
const parsers = { [INT8_OID]: (v: string) => Number(v), [NUMERIC_OID]: (v: string) => Number(v) };

type Runner = Pick<PGlite | Transaction, "query">;
type Options = { parsers: typeof parsers; serializers: SerializerOptions };

async function run<R>(runner: Runner, options: Options, sql: string, params: readonly unknown[] | undefined): Promise<QueryResult<R>> {
  try {
    const result = await runner.query<R>(sql, params as unknown[] | undefined, options);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  } catch (err) {
    throw translateStoreError(err);
  }
}

export interface PgliteStoreOptions {
  /** An instance to share (with the queue backend); when absent one is opened on `dataDir`. */
  db?: PGlite;
  /** Folder for the data files; undefined keeps them in memory. */
  dataDir?: string;
}

export async function createPgliteStore(options: PgliteStoreOptions): Promise<Store & { readonly db: PGlite }> {
  const owned = !options.db;
  const db = options.db ?? (await openPglite(options.dataDir));
  let closed = false;
  const perQuery: Options = { parsers, serializers: checkedSerializers(db) };
  const gate = gateFor(db);
  return {
    kind: "pglite",
    db,
    query: (sql, params) => gate.run(() => run(db, perQuery, sql, params)),
    exec: (sql) =>
      gate.run(async () => {
        try {
          await db.exec(sql);
        } catch (err) {
          throw translateStoreError(err);
        }
      }),
    // The transaction holds the gate to its end; its statements still let timers and sockets run in between.
    transaction: (fn) =>
      gate.run(() =>
        db.transaction((tx) =>
          fn({
            query: async (sql, params) => {
              await yieldToEventLoop();
              return run(tx, perQuery, sql, params);
            },
            exec: async (sql) => {
              try {
                await tx.exec(sql);
              } catch (err) {
                throw translateStoreError(err);
              }
            },
          } satisfies StoreTransaction),
        ),
      ),
    async ping() {
      await gate.run(() => run(db, perQuery, "SELECT 1", []));
    },
    async hasVectorExtension() {
      return true;
    },
    async snapshot() {
      const blob = await db.dumpDataDir("gzip");
      return new Uint8Array(await blob.arrayBuffer());
    },
    async close() {
      if (closed || !owned) return;
      closed = true;
      await db.close();
    },
  };
}
