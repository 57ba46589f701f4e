import { SluiceError } from "../../../core/errors.ts";
import type { Queryable } from "../../../ports/store.ts";
import { validateWorkspaceId } from "../../../core/workspace-id.ts";
import { validateWorkerId } from "./claim.ts";
import { completeItems, failItems, type EmbeddingResult, type Failure } from "./results.ts";
import type { BatchRow, BatchStatus } from "./types.ts";

/**
 * Provider batch jobs (OpenAI Batch: upload JSONL, create, poll, download, apply) tracked in
 * `embedding_batches`. A worker claims items as usual, then hands the claim to the batch: the items'
 * `claimed_by` becomes `batch:<id>`, so results are applied under that name and the stale-claim
 * reclaimer leaves them to the batch (which may legitimately take hours).
 */

const batchWorkerId = (batchId: number): string => `batch:${batchId}`;

export interface CreateBatchInput {
  /** The worker holding the claims on `itemIds`. */
  workerId: string;
  itemIds: readonly number[];
  provider: string;
  model: string;
  dimensions: number;
  /** Set when every item belongs to one workspace. */
  workspaceId?: string;
  providerBatchId?: string;
  inputFileId?: string;
}

const COLUMNS = `id, shop_id, status, provider, model, dimensions, total_items, completed_items, failed_items,
  provider_batch_id, input_file_id, output_file_id, error, submitted_at, updated_at, completed_at`;

const CREATE_SQL = `
WITH b AS (
  INSERT INTO embedding_batches (shop_id, provider, model, dimensions, total_items, provider_batch_id, input_file_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
), moved AS (
  UPDATE shop_product_embeddings s
  SET claimed_by = 'batch:' || b.id, batch_id = b.id, claimed_at = now(), updated_at = now()
  FROM b
  WHERE s.id = ANY($8::bigint[]) AND s.status = 'processing' AND s.claimed_by = $9
  RETURNING s.id
)
SELECT b.id, (SELECT count(*) FROM moved) AS moved FROM b`;

/** Records a submitted batch and moves the worker's claims on its items to it. Items no longer claimed are left out. */
export async function createBatch(db: Queryable, input: CreateBatchInput): Promise<BatchRow> {
  const workerId = validateWorkerId(input.workerId);
  const shopId = input.workspaceId === undefined ? null : validateWorkspaceId(input.workspaceId);
  if (!Number.isInteger(input.dimensions) || input.dimensions < 1)
    throw new SluiceError("VALIDATION_FAILED", "dimensions must be a positive whole number");
  const { rows } = await db.query<{ id: number; moved: number }>(CREATE_SQL, [
    shopId,
    input.provider,
    input.model,
    input.dimensions,
    input.itemIds.length,
    input.providerBatchId ?? null,
    input.inputFileId ?? null,
    input.itemIds,
    workerId,
  ]);
  const created = rows[0];
  if (!created) throw new SluiceError("INTERNAL", "embedding batch was not created");
  if (created.moved !== input.itemIds.length) {
    await db.query("UPDATE embedding_batches SET total_items = $2 WHERE id = $1", [created.id, created.moved]);
  }
  return (await getBatch(db, created.id)) as BatchRow;
}

async function getBatch(db: Queryable, id: number): Promise<BatchRow | null> {
  const { rows } = await db.query<BatchRow>(`SELECT ${COLUMNS} FROM embedding_batches WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** Batches by status (all when absent), oldest first. */
export async function listBatches(db: Queryable, options: { statuses?: readonly BatchStatus[]; limit?: number } = {}): Promise<BatchRow[]> {
  const { rows } = await db.query<BatchRow>(
    `SELECT ${COLUMNS} FROM embedding_batches WHERE ($1::text[] IS NULL OR status = ANY($1::text[])) ORDER BY submitted_at, id LIMIT $2`,
    [options.statuses ?? null, Math.min(options.limit ?? 100, 1_000)],
  );
  return rows;
}

export interface BatchUpdate {
  status?: "submitted" | "processing";
  providerBatchId?: string;
  inputFileId?: string;
  outputFileId?: string;
}

/** Updates an open batch while the provider works on it; null when it is not open (any more). */
export async function updateBatch(db: Queryable, id: number, update: BatchUpdate): Promise<BatchRow | null> {
  const { rows } = await db.query<BatchRow>(
    `UPDATE embedding_batches
     SET status = coalesce($2, status), provider_batch_id = coalesce($3, provider_batch_id),
         input_file_id = coalesce($4, input_file_id), output_file_id = coalesce($5, output_file_id), updated_at = now()
     WHERE id = $1 AND status IN ('submitted', 'processing')
     RETURNING ${COLUMNS}`,
    [id, update.status ?? null, update.providerBatchId ?? null, update.inputFileId ?? null, update.outputFileId ?? null],
  );
  return rows[0] ?? null;
}

export interface BatchResults {
  model: string;
  results?: readonly EmbeddingResult[];
  failures?: readonly Failure[];
  /** @default 3 */
  maxAttempts?: number;
}

/** Applies downloaded results (may be called per chunk of the output file) and counts them on the batch. */
export async function applyBatchResults(
  db: Queryable,
  id: number,
  input: BatchResults,
): Promise<{ completed: number; failed: number; requeued: number }> {
  const workerId = batchWorkerId(id);
  const done = await completeItems(db, { workerId, model: input.model, results: input.results ?? [] });
  const failed = await failItems(db, { workerId, failures: input.failures ?? [], maxAttempts: input.maxAttempts });
  await db.query(
    `UPDATE embedding_batches SET completed_items = completed_items + $2, failed_items = failed_items + $3, updated_at = now() WHERE id = $1`,
    [id, done.completed, failed.failed + failed.requeued],
  );
  return { completed: done.completed, failed: failed.failed, requeued: failed.requeued };
}

export interface FinishBatchInput {
  status: "completed" | "failed" | "expired";
  error?: string;
  /** @default 3 */
  maxAttempts?: number;
}

/**
 * Closes a batch. Items it still holds (no result came back for them) count a failed attempt with the
 * batch's error and return to `pending` (or `failed` when out of attempts): nothing stays stuck.
 */
export async function finishBatch(
  db: Queryable,
  id: number,
  input: FinishBatchInput,
): Promise<{ batch: BatchRow | null; requeued: number; failed: number }> {
  const { rows } = await db.query<BatchRow>(
    `UPDATE embedding_batches SET status = $2, error = $3, completed_at = now(), updated_at = now()
     WHERE id = $1 AND status IN ('submitted', 'processing') RETURNING ${COLUMNS}`,
    [id, input.status, input.error ?? null],
  );
  const { rows: held } = await db.query<{ id: number }>(
    "SELECT id FROM shop_product_embeddings WHERE status = 'processing' AND claimed_by = $1",
    [batchWorkerId(id)],
  );
  const message = input.error ?? `batch ${input.status} without a result for this item`;
  const result = await failItems(db, {
    workerId: batchWorkerId(id),
    failures: held.map((h) => ({ id: h.id, message })),
    maxAttempts: input.maxAttempts,
  });
  return { batch: rows[0] ?? (await getBatch(db, id)), requeued: result.requeued, failed: result.failed };
}
