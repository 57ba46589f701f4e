import type { Queryable } from "../../ports/store.ts";

/**
 * Seed 004 §4.1/§5.3 as one report: slow statements, index usage, tables scanned without an index,
 * and table sizes, on PostgreSQL and on PGlite. The seed's index query names columns that
 * `pg_stat_user_indexes` does not have (`tablename`, `indexname` are `pg_indexes`' names): the view
 * calls them `relname` and `indexrelname`.
 */
export interface DbReportOptions {
  /** Statements slower than this on average are listed (the seed's `mean_exec_time > 100`). @default 100 */
  slowerThanMs?: number;
  /** Rows per section. @default 20 */
  limit?: number;
}

// Type aliases, not interfaces: the CLI prints rows with its generic table(), which takes records.
type SlowStatementRow = {
  query: string;
  calls: number;
  mean_ms: number;
  total_ms: number;
};

type IndexUsageRow = {
  schemaname: string;
  relname: string;
  indexrelname: string;
  idx_scan: number;
  size: string;
};

type UnindexedScanRow = {
  schemaname: string;
  relname: string;
  seq_scan: number;
  idx_scan: number | null;
};

type TableSizeRow = {
  schemaname: string;
  relname: string;
  size: string;
  bytes: number;
};

export interface DbReport {
  engine: string;
  slow_queries: { available: boolean; note?: string; rows: SlowStatementRow[] };
  index_usage: IndexUsageRow[];
  tables_scanned_without_index: UnindexedScanRow[];
  table_sizes: TableSizeRow[];
}

const NOT_INSTALLED =
  "pg_stat_statements is not installed in this database, so there are no per-statement timings. On a PostgreSQL server: add pg_stat_statements to shared_preload_libraries, restart, then CREATE EXTENSION pg_stat_statements. The embedded engine (PGlite) has no pg_stat_statements.";

async function hasStatementStats(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ installed: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed",
  );
  return rows[0]?.installed === true;
}

/** The seed's slow-query query, or why there is none (not installed, or installed but not preloaded). */
async function slowStatements(db: Queryable, slowerThanMs: number, limit: number): Promise<DbReport["slow_queries"]> {
  if (!(await hasStatementStats(db))) return { available: false, note: NOT_INSTALLED, rows: [] };
  try {
    const { rows } = await db.query<SlowStatementRow>(
      `SELECT query, calls::bigint AS calls, round(mean_exec_time::numeric, 2) AS mean_ms, round(total_exec_time::numeric, 2) AS total_ms
       FROM pg_stat_statements WHERE mean_exec_time > $1 ORDER BY mean_exec_time DESC LIMIT $2`,
      [slowerThanMs, limit],
    );
    return { available: true, rows };
  } catch (err) {
    return { available: false, note: `pg_stat_statements is installed but cannot be read: ${(err as Error).message}`, rows: [] };
  }
}

/** Least-used indexes first: candidates to drop, or signs a query does not use the index meant for it. */
async function indexUsage(db: Queryable, limit: number): Promise<IndexUsageRow[]> {
  const { rows } = await db.query<IndexUsageRow>(
    `SELECT schemaname, relname, indexrelname, idx_scan, pg_size_pretty(pg_relation_size(indexrelid)) AS size
     FROM pg_stat_user_indexes ORDER BY idx_scan ASC, relname, indexrelname LIMIT $1`,
    [limit],
  );
  return rows;
}

/** Seed 004 §5.3 "missing indexes": tables read by sequential scans and never through an index. */
async function tablesScannedWithoutIndex(db: Queryable, limit: number): Promise<UnindexedScanRow[]> {
  const { rows } = await db.query<UnindexedScanRow>(
    `SELECT schemaname, relname, seq_scan, idx_scan FROM pg_stat_user_tables
     WHERE coalesce(idx_scan, 0) = 0 AND seq_scan > 0 ORDER BY seq_scan DESC, relname LIMIT $1`,
    [limit],
  );
  return rows;
}

/** Seed 004 §4.1 "table sizes", over Sluice's schema and the queue engine's (`bullmq`, when it is in this database). */
async function tableSizes(db: Queryable, limit: number): Promise<TableSizeRow[]> {
  const { rows } = await db.query<TableSizeRow>(
    `SELECT schemaname, relname, pg_size_pretty(pg_total_relation_size(relid)) AS size, pg_total_relation_size(relid) AS bytes
     FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC, relname LIMIT $1`,
    [limit],
  );
  return rows;
}

export async function dbReport(db: Queryable, engine: string, options: DbReportOptions = {}): Promise<DbReport> {
  const limit = options.limit ?? 20;
  return {
    engine,
    slow_queries: await slowStatements(db, options.slowerThanMs ?? 100, limit),
    index_usage: await indexUsage(db, limit),
    tables_scanned_without_index: await tablesScannedWithoutIndex(db, limit),
    table_sizes: await tableSizes(db, limit),
  };
}
