import { SluiceError } from "../../../core/errors.ts";
import type { Queryable } from "../../../ports/store.ts";
import { validateWorkspaceId } from "../../../core/workspace-id.ts";
import { DEFAULT_MAX_ATTEMPTS, type ClaimedItem } from "./types.ts";

export interface ClaimOptions {
  /** Who claims: stored in `claimed_by`; results and releases must name the same worker. */
  workerId: string;
  /** Most items to claim. @default 100 */
  limit?: number;
  /** Only this workspace's items; all workspaces (oldest first) when absent. */
  workspaceId?: string;
}

const DEFAULT_CLAIM_LIMIT = 100;
const MAX_CLAIM_LIMIT = 10_000;

/** Throws VALIDATION_FAILED unless the worker id is 1-200 characters. */
export function validateWorkerId(workerId: unknown): string {
  if (typeof workerId === "string" && workerId.length > 0 && workerId.length <= 200) return workerId;
  throw new SluiceError("VALIDATION_FAILED", "workerId must be 1-200 characters", { details: { field: "workerId" } });
}

function validateLimit(limit: number): number {
  if (Number.isInteger(limit) && limit >= 1 && limit <= MAX_CLAIM_LIMIT) return limit;
  throw new SluiceError("VALIDATION_FAILED", `limit must be a whole number from 1 to ${MAX_CLAIM_LIMIT}`, { details: { field: "limit" } });
}

// SKIP LOCKED: a row another claimer has locked is passed over, never waited for or taken twice;
// FOR UPDATE re-checks `status = 'pending'` on the newest row version, so a row claimed and committed
// since this statement's snapshot is not taken again.
const claimSql = (scoped: boolean): string => `
WITH picked AS (
  SELECT id FROM shop_product_embeddings
  WHERE status = 'pending'${scoped ? " AND shop_id = $3" : ""}
  ORDER BY id
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
UPDATE shop_product_embeddings s
SET status = 'processing', claimed_by = $2, claimed_at = now(), batch_id = NULL, updated_at = now()
FROM picked
WHERE s.id = picked.id
RETURNING s.id, s.shop_id AS "workspaceId", s.external_id AS "externalId", s.content AS text,
          s.content_hash AS "contentHash", s.retry_count AS "retryCount"`;

/** Atomically moves up to `limit` pending items to `processing` for this worker, oldest first. */
export async function claimItems(db: Queryable, options: ClaimOptions): Promise<ClaimedItem[]> {
  const workerId = validateWorkerId(options.workerId);
  const limit = validateLimit(options.limit ?? DEFAULT_CLAIM_LIMIT);
  const params: unknown[] = [limit, workerId];
  if (options.workspaceId !== undefined) params.push(validateWorkspaceId(options.workspaceId));
  const { rows } = await db.query<ClaimedItem>(claimSql(options.workspaceId !== undefined), params);
  return rows.sort((a, b) => a.id - b.id);
}

export interface ReleaseOptions {
  workerId: string;
  /** Only these items; every item the worker holds when absent. */
  ids?: readonly number[];
}

/**
 * Gives a worker's claimed items back as `pending`, without counting an attempt (the kill switch and
 * graceful shutdown use it: claimed work goes back to the queue, nothing is lost). Returns how many.
 */
export async function releaseClaims(db: Queryable, options: ReleaseOptions): Promise<number> {
  const workerId = validateWorkerId(options.workerId);
  const byId = options.ids !== undefined;
  const { rowCount } = await db.query(
    `UPDATE shop_product_embeddings
     SET status = 'pending', claimed_by = NULL, claimed_at = NULL, batch_id = NULL, updated_at = now()
     WHERE status = 'processing' AND claimed_by = $1${byId ? " AND id = ANY($2::bigint[])" : ""}`,
    byId ? [workerId, options.ids] : [workerId],
  );
  return rowCount;
}

export interface ReclaimOptions {
  /** Claims older than this are taken back. @default 600000 (10 minutes) */
  olderThanMs?: number;
  /** Attempts after which an item whose workers keep dying is marked failed. @default 3 */
  maxAttempts?: number;
}

export interface ReclaimResult {
  /** Back to `pending`. */
  requeued: number;
  /** Marked `failed`: workers died on them `maxAttempts` times (a poison item). */
  failed: number;
}

export const STALE_CLAIM_MESSAGE = "claim expired: the worker stopped without reporting a result";

/**
 * Takes back items whose worker vanished (SIGKILL, lost connection) while holding them. This counts
 * as a failed attempt, so an item that kills its worker every time ends `failed`, not in a loop.
 * Items held by a provider batch (batch_id set) are left to the batch's own lifecycle.
 */
export async function reclaimStaleClaims(db: Queryable, options: ReclaimOptions = {}): Promise<ReclaimResult> {
  const olderThanMs = options.olderThanMs ?? 600_000;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const { rows } = await db.query<{ status: string }>(
    `UPDATE shop_product_embeddings
     SET retry_count = retry_count + 1,
         status = CASE WHEN retry_count + 1 >= $2 THEN 'failed' ELSE 'pending' END,
         error_message = $3, claimed_by = NULL, claimed_at = NULL, updated_at = now()
     WHERE status = 'processing' AND batch_id IS NULL AND claimed_at < now() - make_interval(secs => $1::float8 / 1000)
     RETURNING status`,
    [olderThanMs, maxAttempts, STALE_CLAIM_MESSAGE],
  );
  const failed = rows.filter((r) => r.status === "failed").length;
  return { requeued: rows.length - failed, failed };
}
