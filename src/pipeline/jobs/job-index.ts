import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Queryable } from "../../ports/store.ts";

/**
 * The per-workspace job index (table `job_index`): one row per job taken at `POST /ai/jobs`,
 * written where the idempotency claim is made, before the job is queued. Listing a workspace's
 * jobs reads this index by keyset instead of scanning the queues' lists, which hold every tenant's
 * jobs. A row knows `queued` until the worker settles the job (`completed`, `failed`); the live
 * state (waiting, delayed, active) is read from BullMQ for the jobs of one page only.
 */
export type IndexedState = "queued" | "completed" | "failed";

export interface JobIndexRow {
  workspaceId: string;
  jobId: string;
  queue: string;
  type: string;
  state: IndexedState;
  /** When the job was taken (ms since epoch): the listing's order, newest first. */
  createdMs: number;
}

export interface JobIndexQuery {
  workspaceId: string;
  states?: readonly IndexedState[] | undefined;
  type?: string | undefined;
  queue?: string | undefined;
  /** Only jobs taken at or after this time (ms since epoch). */
  sinceMs?: number | undefined;
  limit: number;
  /** From a previous page's `next`; absent for the first page. */
  cursor?: string | undefined;
}

export interface JobIndexPage {
  rows: JobIndexRow[];
  /** The cursor of the next page; null when this page reached the end. */
  next: string | null;
}

interface Row {
  job_id: string;
  queue: string;
  type: string;
  state: IndexedState;
  created_ms: number | string;
}

/** Keyset position: the last row of a page (created_ms, job_id), opaque to clients. */
export function encodeIndexCursor(row: Pick<JobIndexRow, "createdMs" | "jobId">): string {
  return Buffer.from(JSON.stringify([row.createdMs, row.jobId])).toString("base64url");
}

export function decodeIndexCursor(cursor: string): { createdMs: number; jobId: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (Array.isArray(parsed) && Number.isSafeInteger(parsed[0]) && typeof parsed[1] === "string" && parsed[1].length <= 200) return { createdMs: parsed[0] as number, jobId: parsed[1] };
  } catch {
    // falls through to the error below
  }
  throw new SluiceError("VALIDATION_FAILED", "cursor is not one this server returned", { details: { field: "cursor" } });
}

/** Records a job at intake; a repeat (the same claimed id) leaves the first row as it is. */
export async function indexJob(db: Queryable, row: JobIndexRow): Promise<void> {
  await db.query(
    `INSERT INTO job_index (workspace_id, job_id, queue, type, state, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (workspace_id, job_id) DO NOTHING`,
    [row.workspaceId, row.jobId, row.queue, row.type, row.state, row.createdMs],
  );
}

export async function setIndexedState(db: Queryable, workspaceId: string, jobId: string, state: IndexedState): Promise<void> {
  await db.query("UPDATE job_index SET state = $3, updated_at = now() WHERE workspace_id = $1 AND job_id = $2 AND state <> $3", [workspaceId, jobId, state]);
}

/** Drops rows whose jobs are gone from the queue (retention, an operator's clean or remove). */
export async function forgetIndexedJobs(db: Queryable, workspaceId: string, jobIds: readonly string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await db.query("DELETE FROM job_index WHERE workspace_id = $1 AND job_id = ANY($2::text[])", [workspaceId, [...jobIds]]);
}

/**
 * One page, newest first. Only the conditions asked for are in the statement, so the planner
 * always walks `job_index_newest_idx` or `job_index_state_idx` from the cursor: the cost is the
 * page, whatever the workspace's or the fleet's size.
 */
export async function pageJobIndex(db: Queryable, query: JobIndexQuery): Promise<JobIndexPage> {
  const params: unknown[] = [query.workspaceId];
  const where = ["workspace_id = $1"];
  const add = (sql: (n: number) => string, value: unknown) => {
    params.push(value);
    where.push(sql(params.length));
  };
  if (query.states && query.states.length > 0) add((n) => `state = ANY($${n}::text[])`, [...query.states]);
  if (query.type !== undefined) add((n) => `type = $${n}`, query.type);
  if (query.queue !== undefined) add((n) => `queue = $${n}`, query.queue);
  if (query.sinceMs !== undefined) add((n) => `created_ms >= $${n}`, query.sinceMs);
  if (query.cursor !== undefined) {
    const after = decodeIndexCursor(query.cursor);
    params.push(after.createdMs, after.jobId);
    where.push(`(created_ms, job_id) < ($${params.length - 1}::bigint, $${params.length}::text)`);
  }
  params.push(query.limit + 1);
  const { rows } = await db.query<Row>(
    `SELECT job_id, queue, type, state, created_ms FROM job_index WHERE ${where.join(" AND ")}
     ORDER BY created_ms DESC, job_id DESC LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, query.limit).map((r) => ({ workspaceId: query.workspaceId, jobId: r.job_id, queue: r.queue, type: r.type, state: r.state, createdMs: Number(r.created_ms) }));
  const last = page.at(-1);
  return { rows: page, next: rows.length > query.limit && last ? encodeIndexCursor(last) : null };
}

/** The index as the jobs service and the workers use it: writes that must not fail a job are logged instead. */
export interface JobIndex {
  record(row: JobIndexRow): Promise<void>;
  /** A worker settled the job (completed, or failed with no attempt left). Never throws. */
  settle(workspaceId: string, jobId: string, state: Exclude<IndexedState, "queued">): Promise<void>;
  /** Brings rows in line with what a page read from the queue: changed states, jobs gone. Never throws. */
  reconcile(workspaceId: string, changed: ReadonlyArray<{ jobId: string; state: IndexedState }>, gone: readonly string[]): Promise<void>;
  page(query: JobIndexQuery): Promise<JobIndexPage>;
}

export interface JobIndexOptions {
  /**
   * Rows this process records between two `ANALYZE job_index`. PGlite has no autovacuum: without
   * statistics its planner sorts a workspace's rows instead of walking the index. On a PostgreSQL
   * server autovacuum does the same, and this costs one sampled pass now and then. @default 10000
   */
  analyzeEvery?: number;
}

export function createJobIndex(db: Queryable, logger?: Logger, options: JobIndexOptions = {}): JobIndex {
  const analyzeEvery = options.analyzeEvery ?? 10_000;
  let recorded = 0;
  const quietly = async (what: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (err) {
      logger?.warn({ err }, `job index: could not ${what} (the next listing reads the state from the queue)`);
    }
  };
  return {
    async record(row) {
      await indexJob(db, row);
      recorded += 1;
      if (recorded % analyzeEvery === 0) void quietly("analyze job_index", async () => void (await db.query("ANALYZE job_index")));
    },
    settle: (workspaceId, jobId, state) => quietly("record a settled job", () => setIndexedState(db, workspaceId, jobId, state)),
    reconcile: (workspaceId, changed, gone) =>
      quietly("reconcile a page", async () => {
        for (const row of changed) await setIndexedState(db, workspaceId, row.jobId, row.state);
        await forgetIndexedJobs(db, workspaceId, gone);
      }),
    page: (query) => pageJobIndex(db, query),
  };
}
