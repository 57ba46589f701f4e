import type { Queryable } from "../../../ports/store.ts";
import { validateWorkspaceId } from "../../../core/workspace-id.ts";
import type { BatchStatus, ItemStatus } from "./types.ts";

/** Runbook 000 "Investigare Backlog", one function per query, with the same SQL shape. */

export interface BacklogRow {
  workspaceId: string;
  status: ItemStatus;
  count: number;
}

/** Items per workspace and status, largest first ("Backlog per shop"). */
export async function backlogByWorkspace(db: Queryable, options: { workspaceId?: string } = {}): Promise<BacklogRow[]> {
  const scoped = options.workspaceId !== undefined;
  const { rows } = await db.query<BacklogRow>(
    `SELECT shop_id AS "workspaceId", status, COUNT(*) AS count
     FROM shop_product_embeddings ${scoped ? "WHERE shop_id = $1" : ""}
     GROUP BY shop_id, status
     ORDER BY count DESC, shop_id, status`,
    scoped ? [validateWorkspaceId(options.workspaceId)] : [],
  );
  return rows;
}

export interface PendingRow {
  workspaceId: string;
  pending: number;
}

/** Workspaces with the most pending items ("Top 10 shops cu backlog"). */
export async function topPendingWorkspaces(db: Queryable, options: { limit?: number } = {}): Promise<PendingRow[]> {
  const { rows } = await db.query<PendingRow>(
    `SELECT shop_id AS "workspaceId", COUNT(*) AS pending
     FROM shop_product_embeddings
     WHERE status = 'pending'
     GROUP BY shop_id
     ORDER BY pending DESC, shop_id
     LIMIT $1`,
    [clampLimit(options.limit ?? 10)],
  );
  return rows;
}

export interface StuckBatch {
  id: number;
  workspaceId: string | null;
  status: BatchStatus;
  totalItems: number;
  completedItems: number;
  providerBatchId: string | null;
  submittedAt: Date;
  ageSeconds: number;
}

/** Batches still submitted/processing after `olderThanSeconds` ("Batch-uri stuck (>2h)"). */
export async function stuckBatches(db: Queryable, options: { olderThanSeconds?: number } = {}): Promise<StuckBatch[]> {
  const { rows } = await db.query<StuckBatch>(
    `SELECT id, shop_id AS "workspaceId", status, total_items AS "totalItems", completed_items AS "completedItems",
            provider_batch_id AS "providerBatchId", submitted_at AS "submittedAt",
            extract(epoch FROM now() - submitted_at) AS "ageSeconds"
     FROM embedding_batches
     WHERE status IN ('submitted', 'processing')
       AND submitted_at < now() - make_interval(secs => $1)
     ORDER BY submitted_at`,
    [options.olderThanSeconds ?? 7_200],
  );
  return rows;
}

export interface ErrorRow {
  errorMessage: string | null;
  count: number;
}

/** Failed items of the last `sinceSeconds`, grouped by message ("Erori recente"). */
export async function recentErrors(db: Queryable, options: { sinceSeconds?: number; limit?: number } = {}): Promise<ErrorRow[]> {
  const { rows } = await db.query<ErrorRow>(
    `SELECT error_message AS "errorMessage", COUNT(*) AS count
     FROM shop_product_embeddings
     WHERE status = 'failed'
       AND updated_at > now() - make_interval(secs => $1)
     GROUP BY error_message
     ORDER BY count DESC, error_message
     LIMIT $2`,
    [options.sinceSeconds ?? 3_600, clampLimit(options.limit ?? 50)],
  );
  return rows;
}

/** Age of the oldest submitted/processing batch in seconds, 0 when none (the ai_batch_age_seconds gauge). */
export async function oldestOpenBatchAgeSeconds(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ age: number }>(
    `SELECT coalesce(extract(epoch FROM now() - min(submitted_at)), 0) AS age
     FROM embedding_batches WHERE status IN ('submitted', 'processing')`,
  );
  return Math.max(0, rows[0]?.age ?? 0);
}

export interface BacklogGaugeRow {
  /** A workspace id, or `_other` for the sum of the workspaces beyond `maxWorkspaces`. */
  workspace: string;
  status: Exclude<ItemStatus, "completed">;
  count: number;
}

const OTHER_WORKSPACES = "_other";

/** The statuses ai_backlog_items reports (everything but `completed`). */
const BACKLOG_STATUSES: readonly BacklogGaugeRow["status"][] = ["pending", "processing", "failed"];

/**
 * Not-yet-completed items per workspace and status for the ai_backlog_items gauge. Label cardinality
 * stays bounded: the `maxWorkspaces` largest backlogs get their own series, the rest sum into
 * workspace="_other", so sum(ai_backlog_items) is always the whole backlog. Every workspace that has
 * items gets all three statuses, 0 included: a drained backlog reads 0, not "no data", so an alert
 * like `sum(ai_backlog_items) < 1000` keeps answering.
 */
export async function backlogGauge(db: Queryable, options: { maxWorkspaces?: number | undefined } = {}): Promise<BacklogGaugeRow[]> {
  const { rows } = await db.query<BacklogGaugeRow>(
    `WITH c AS (
       SELECT shop_id, status, COUNT(*) AS n FROM shop_product_embeddings GROUP BY shop_id, status),
     top AS (
       SELECT shop_id FROM c GROUP BY shop_id
       ORDER BY sum(n) FILTER (WHERE status <> 'completed') DESC NULLS LAST, shop_id LIMIT $1),
     labelled AS (
       SELECT coalesce(top.shop_id, '${OTHER_WORKSPACES}') AS workspace, c.status, c.n FROM c LEFT JOIN top USING (shop_id))
     SELECT w.workspace, s.status, coalesce(sum(l.n), 0) AS count
     FROM (SELECT DISTINCT workspace FROM labelled) w
     CROSS JOIN unnest($2::text[]) AS s(status)
     LEFT JOIN labelled l ON l.workspace = w.workspace AND l.status = s.status
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [clampLimit(options.maxWorkspaces ?? 50), BACKLOG_STATUSES],
  );
  return rows;
}

export interface BacklogReport {
  byWorkspace: BacklogRow[];
  topPending: PendingRow[];
  stuckBatches: StuckBatch[];
  recentErrors: ErrorRow[];
  oldestOpenBatchAgeSeconds: number;
}

/** Everything `sluice backlog` prints, in one call. */
export async function backlogReport(db: Queryable): Promise<BacklogReport> {
  return {
    byWorkspace: await backlogByWorkspace(db),
    topPending: await topPendingWorkspaces(db),
    stuckBatches: await stuckBatches(db),
    recentErrors: await recentErrors(db),
    oldestOpenBatchAgeSeconds: await oldestOpenBatchAgeSeconds(db),
  };
}

function clampLimit(limit: number): number {
  return Number.isInteger(limit) ? Math.min(Math.max(limit, 1), 10_000) : 10;
}
