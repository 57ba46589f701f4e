import { SluiceError } from "../../../core/errors.ts";
import type { Queryable } from "../../../ports/store.ts";
import { validateWorkspaceId } from "../../../core/workspace-id.ts";
import { DEFAULT_MAX_ATTEMPTS } from "./types.ts";

/**
 * Runbook 000 "Reindexare Embeddings". Both keep the current vectors until the new ones are written,
 * so search keeps answering during a re-embed (search can filter by model when the model changed).
 * Callers audit: the admin API runs these and `audit.record()` in one transaction.
 */

const REQUEUE =
  "status = 'pending', retry_count = 0, error_message = NULL, claimed_by = NULL, claimed_at = NULL, batch_id = NULL, updated_at = now()";

/**
 * Re-queues every item of one workspace ("Full Reindex"): status `pending`, retry_count 0.
 * Items already pending with no failed attempt are left alone (no write, no index churn).
 */
export async function reindexWorkspace(db: Queryable, workspaceId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE shop_product_embeddings SET ${REQUEUE}
     WHERE shop_id = $1 AND NOT (status = 'pending' AND retry_count = 0)`,
    [validateWorkspaceId(workspaceId)],
  );
  return rowCount;
}

export interface RetryFailedOptions {
  /** Only this workspace. */
  workspaceId?: string;
  /**
   * false (default) mirrors the runbook's `WHERE status = 'failed' AND retry_count < maxAttempts`:
   * only items that failed permanently before using their attempts. true re-queues every failed
   * item, including those that used all their attempts.
   * @default false
   */
  force?: boolean;
  /** @default 3 */
  maxAttempts?: number;
}

/** Re-queues failed items ("Reindex produse failed"); returns how many. */
export async function retryFailed(db: Queryable, options: RetryFailedOptions = {}): Promise<number> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new SluiceError("VALIDATION_FAILED", "maxAttempts must be a whole number of at least 1");
  const conditions = ["status = 'failed'"];
  const params: unknown[] = [];
  if (!options.force) conditions.push(`retry_count < $${params.push(maxAttempts)}`);
  if (options.workspaceId !== undefined) conditions.push(`shop_id = $${params.push(validateWorkspaceId(options.workspaceId))}`);
  const { rowCount } = await db.query(`UPDATE shop_product_embeddings SET ${REQUEUE} WHERE ${conditions.join(" AND ")}`, params);
  return rowCount;
}
