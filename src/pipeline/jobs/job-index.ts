import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Queryable } from "../../ports/store.ts";

/**
 * The per-workspace job index (table `job_index`): one row per job taken at `POST /ai/jobs`,
 * written where the idempotency claim is made, before the job is queued. Listing a workspace's
 * jobs reads this index by keyset instead of scanning the queues' lists, which hold every tenant's
 * jobs. A row knows `queued` until the worker settles the job (`completed`, `failed`); the live
 * state (waiting, delayed, active) is read from BullMQ for the jobs of one page only.
 *
 * When the store is down and the queues are not (queues on Redis), intake goes on and jobs settle:
 * their index writes wait in this process's memory and are written when the store answers again,
 * so a short store outage leaves no accepted job unlisted (a crash before that loses only the
 * listing row; the job is still found by id).
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

interface JobIndexQuery {
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

interface JobIndexPage {
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
function encodeIndexCursor(row: Pick<JobIndexRow, "createdMs" | "jobId">): string {
  return Buffer.from(JSON.stringify([row.createdMs, row.jobId])).toString("base64url");
}

function decodeIndexCursor(cursor: string): { createdMs: number; jobId: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (Array.isArray(parsed) && Number.isSafeInteger(parsed[0]) && typeof parsed[1] === "string" && parsed[1].length <= 200)
      return { createdMs: parsed[0] as number, jobId: parsed[1] };
  } catch {
    // falls through to the error below
  }
  throw new SluiceError("VALIDATION_FAILED", "cursor is not one this server returned", { details: { field: "cursor" } });
}

/** Records a job at intake; a repeat (the same claimed id) leaves the first row as it is. */
async function indexJob(db: Queryable, row: JobIndexRow): Promise<void> {
  await db.query(
    `INSERT INTO job_index (workspace_id, job_id, queue, type, state, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (workspace_id, job_id) DO NOTHING`,
    [row.workspaceId, row.jobId, row.queue, row.type, row.state, row.createdMs],
  );
}

/** A settled job's row, written if intake could not write it (the store was down then). */
async function settleIndexedJob(db: Queryable, row: JobIndexRow): Promise<void> {
  await db.query(
    `INSERT INTO job_index (workspace_id, job_id, queue, type, state, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (workspace_id, job_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now() WHERE job_index.state <> EXCLUDED.state`,
    [row.workspaceId, row.jobId, row.queue, row.type, row.state, row.createdMs],
  );
}

async function setIndexedState(db: Queryable, workspaceId: string, jobId: string, state: IndexedState): Promise<void> {
  await db.query("UPDATE job_index SET state = $3, updated_at = now() WHERE workspace_id = $1 AND job_id = $2 AND state <> $3", [
    workspaceId,
    jobId,
    state,
  ]);
}

/** Drops rows whose jobs are gone from the queue (retention, an operator's clean or remove). */
async function forgetIndexedJobs(db: Queryable, workspaceId: string, jobIds: readonly string[]): Promise<void> {
  if (jobIds.length === 0) return;
  await db.query("DELETE FROM job_index WHERE workspace_id = $1 AND job_id = ANY($2::text[])", [workspaceId, [...jobIds]]);
}

/**
 * One page, newest first. Only the conditions asked for are in the statement, so the planner
 * always walks `job_index_newest_idx` or `job_index_state_idx` from the cursor: the cost is the
 * page, whatever the workspace's or the fleet's size.
 */
async function pageJobIndex(db: Queryable, query: JobIndexQuery): Promise<JobIndexPage> {
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
  const page = rows.slice(0, query.limit).map((r) => ({
    workspaceId: query.workspaceId,
    jobId: r.job_id,
    queue: r.queue,
    type: r.type,
    state: r.state,
    createdMs: Number(r.created_ms),
  }));
  const last = page.at(-1);
  return { rows: page, next: rows.length > query.limit && last ? encodeIndexCursor(last) : null };
}

/** The index as the jobs service and the workers use it: writes that must not fail a job are logged instead. */
export interface JobIndex {
  record(row: JobIndexRow): Promise<void>;
  /** A worker settled the job (completed, or failed with no attempt left). Never throws. */
  /**
   * Records a job's final state. An upsert: a job accepted while the store was down has no row yet
   * (intake skipped it), and settling is where it gets one. Never throws: a write the store refuses
   * waits and is retried.
   */
  settle(row: JobIndexRow & { state: Exclude<IndexedState, "queued"> }): Promise<void>;
  /** A row intake could not write now (the store is down): written when the store answers. */
  recordLater(row: JobIndexRow): void;
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
  /** How often waiting writes are retried. @default 2000 */
  retryEveryMs?: number;
  /** Waiting writes kept at most (the oldest are dropped beyond it). @default 100000 */
  maxWaiting?: number;
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
  const waiting = createWaitingWrites(db, logger, options);
  return {
    async record(row) {
      await indexJob(db, row);
      recorded += 1;
      if (recorded % analyzeEvery === 0) void quietly("analyze job_index", async () => void (await db.query("ANALYZE job_index")));
    },
    settle: async (row) => {
      try {
        await settleIndexedJob(db, row);
      } catch (err) {
        waiting.add(row, err);
      }
    },
    recordLater: (row) => waiting.add(row, undefined),
    reconcile: (workspaceId, changed, gone) =>
      quietly("reconcile a page", async () => {
        for (const row of changed) await setIndexedState(db, workspaceId, row.jobId, row.state);
        await forgetIndexedJobs(db, workspaceId, gone);
      }),
    page: (query) => pageJobIndex(db, query),
  };
}

/** Index writes the store refused, retried on a timer until it answers; a settle replaces a waiting record. */
function createWaitingWrites(
  db: Queryable,
  logger: Logger | undefined,
  options: JobIndexOptions,
): { add(row: JobIndexRow, err: unknown): void } {
  const rows = new Map<string, JobIndexRow>();
  const maxWaiting = options.maxWaiting ?? 100_000;
  let timer: NodeJS.Timeout | undefined;
  const flush = async (): Promise<void> => {
    for (const [key, row] of rows) {
      try {
        // A waiting intake row never overwrites a state the worker has written since.
        await (row.state === "queued" ? indexJob(db, row) : settleIndexedJob(db, row));
      } catch {
        return; // still down: the next tick tries again
      }
      if (rows.get(key) === row) rows.delete(key);
    }
    clearInterval(timer);
    timer = undefined;
    logger?.info("job index: the writes that waited for the store are done");
  };
  return {
    add(row, err) {
      if (rows.size === 0) logger?.warn({ err }, "job index: store unavailable, index writes wait and are retried");
      const key = `${row.workspaceId}\u0000${row.jobId}`;
      const settledAlready = rows.has(key) && rows.get(key)?.state !== "queued";
      if (settledAlready && row.state === "queued") return;
      rows.delete(key);
      rows.set(key, row);
      if (rows.size > maxWaiting) rows.delete(rows.keys().next().value as string);
      let flushing = false;
      timer ??= setInterval(() => {
        if (flushing) return;
        flushing = true;
        void flush().finally(() => (flushing = false));
      }, options.retryEveryMs ?? 2_000).unref();
    },
  };
}
