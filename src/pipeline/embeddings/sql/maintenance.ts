import { SluiceError } from "../../../core/errors.ts";
import type { Queryable, Store } from "../../../ports/store.ts";
import { checkIndexable, indexExpression } from "./vector-codec.ts";

/** Runbook 000 "VACUUM HNSW Index" and "REINDEX": the index keeps the runbook's name. */
export const VECTOR_INDEX = "idx_shop_embeddings_vector";
const EMBEDDING_TABLES = ["shop_product_embeddings", "embedding_batches"] as const;

export interface MaintenanceOptions {
  /**
   * maintenance_work_mem for the build. HNSW builds take about twice as long at PostgreSQL's 64MB
   * default as at 512MB. Applied per statement on PGlite and inside the build's transaction for
   * ensureVectorIndex; REINDEX CONCURRENTLY on a server cannot take a session setting through a
   * pool, so set it there with `ALTER DATABASE ... SET maintenance_work_mem`.
   * @default "512MB"
   */
  maintenanceWorkMem?: string;
}

const MEMORY = /^\d{1,6}\s*(kB|MB|GB)$/;

function memorySetting(options: MaintenanceOptions): string {
  const value = options.maintenanceWorkMem ?? "512MB";
  if (!MEMORY.test(value))
    throw new SluiceError("VALIDATION_FAILED", "maintenanceWorkMem must look like 512MB", { details: { field: "maintenanceWorkMem" } });
  return value;
}

async function timed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return Math.round(performance.now() - started);
}

/** `VACUUM ANALYZE` of both embedding tables, one statement each (VACUUM cannot run in a transaction). */
export async function vacuumAnalyze(store: Store): Promise<{ table: string; durationMs: number }[]> {
  const done: { table: string; durationMs: number }[] = [];
  for (const table of EMBEDDING_TABLES) {
    done.push({ table, durationMs: await timed(() => store.exec(`VACUUM ANALYZE ${table}`)) });
  }
  return done;
}

export interface ReindexOptions extends MaintenanceOptions {
  /** CONCURRENTLY keeps writes flowing during the rebuild (PGlite supports it too). @default true */
  concurrently?: boolean;
}

/** Rebuilds the HNSW index (runbook: `REINDEX INDEX CONCURRENTLY idx_shop_embeddings_vector;`). */
export async function reindexVectorIndex(
  store: Store,
  options: ReindexOptions = {},
): Promise<{ concurrently: boolean; durationMs: number }> {
  const concurrently = options.concurrently ?? true;
  const statement = `REINDEX INDEX ${concurrently ? "CONCURRENTLY " : ""}${VECTOR_INDEX}`;
  if (store.kind !== "pglite") return { concurrently, durationMs: await timed(() => store.exec(statement)) };
  // PGlite has one session: set the memory for this statement only, then put it back.
  const memory = memorySetting(options);
  const durationMs = await timed(async () => {
    await store.exec(`SET maintenance_work_mem = '${memory}'`);
    try {
      await store.exec(statement);
    } finally {
      await store.exec("RESET maintenance_work_mem");
    }
  });
  return { concurrently, durationMs };
}

export interface VectorIndexInfo {
  exists: boolean;
  /** The dimensions the index covers (its `WHERE dimensions = N`), null when absent. */
  dimensions: number | null;
  definition: string | null;
  sizeBytes: number;
}

/** What idx_shop_embeddings_vector currently indexes. */
export async function vectorIndexInfo(db: Queryable): Promise<VectorIndexInfo> {
  const { rows } = await db.query<{ definition: string; size: number }>(
    `SELECT indexdef AS definition, pg_relation_size(format('%I', indexname)::regclass) AS size
     FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1`,
    [VECTOR_INDEX],
  );
  const row = rows[0];
  if (!row) return { exists: false, dimensions: null, definition: null, sizeBytes: 0 };
  const match = /dimensions = (\d+)/.exec(row.definition);
  return { exists: true, dimensions: match ? Number(match[1]) : null, definition: row.definition, sizeBytes: row.size };
}

/**
 * Makes idx_shop_embeddings_vector cover `dimensions` (AI_EMBEDDING_DIMENSIONS), rebuilding it when it
 * covers another size. Call at start. The rebuild blocks writes to the table while it runs; vectors of
 * other sizes stay stored (search on them is exact, not indexed).
 */
export async function ensureVectorIndex(
  store: Store,
  options: MaintenanceOptions & { dimensions: number },
): Promise<{ rebuilt: boolean; durationMs: number }> {
  const dimensions = checkIndexable(options.dimensions);
  const current = await vectorIndexInfo(store);
  if (current.exists && current.dimensions === dimensions) return { rebuilt: false, durationMs: 0 };
  const memory = memorySetting(options);
  const opclass = dimensions > 2_000 ? "halfvec_cosine_ops" : "vector_cosine_ops";
  const durationMs = await timed(() =>
    store.transaction(async (tx) => {
      await tx.query(`SELECT set_config('maintenance_work_mem', $1, true)`, [memory]);
      await tx.query(`DROP INDEX IF EXISTS ${VECTOR_INDEX}`);
      await tx.query(
        `CREATE INDEX ${VECTOR_INDEX} ON shop_product_embeddings USING hnsw (${indexExpression(dimensions)} ${opclass}) WHERE dimensions = ${dimensions}`,
      );
    }),
  );
  return { rebuilt: true, durationMs };
}

/** The pgvector version installed (e.g. "0.8.7"); iterative index scans need 0.8.0 or later. */
export async function pgvectorVersion(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'");
  return rows[0]?.v ?? null;
}
