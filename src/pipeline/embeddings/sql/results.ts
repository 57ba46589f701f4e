import { SluiceError } from "../../../core/errors.ts";
import type { Queryable } from "../../../ports/store.ts";
import { validateWorkerId } from "./claim.ts";
import { DEFAULT_MAX_ATTEMPTS, type Vector } from "./types.ts";
import { validateVector, vectorArrayParam, vectorTypeOid } from "./vector-codec.ts";

export interface EmbeddingResult {
  id: number;
  vector: Vector;
}

export interface CompleteOptions {
  /** The worker (or `batch:<id>`) that claimed the items. */
  workerId: string;
  /** The model that made the vectors, stored per row; search can filter on it. */
  model: string;
  results: readonly EmbeddingResult[];
  /** Every vector must have this many dimensions; the first vector's length when absent. */
  dimensions?: number;
  /** Rows per UPDATE statement (see VECTOR_WRITE_CHUNK). @default 20 */
  writeChunkSize?: number;
}

/**
 * Rows written per statement. Each row costs an HNSW insert (~1-5 ms on PGlite, more on a loaded
 * machine), and embedded PGlite runs a statement on the API's thread with every other query waiting:
 * 100 rows in one statement held /ready and /metrics for 0.5-1 s each time. 20 keeps a statement
 * around 20-100 ms; the per-statement overhead is small next to the inserts (throughput unchanged,
 * bench/backfill-responsiveness.ts). Each row is still written only under its own claim, so a chunk
 * written in several statements needs no transaction around them.
 */
const VECTOR_WRITE_CHUNK = 20;

export interface CompleteResult {
  completed: number;
  /**
   * Results not written because the item is no longer this worker's claim: released, reclaimed
   * after a timeout, re-queued by a new text or by reindex, or deleted. Its next claim embeds it again.
   */
  skipped: number;
}

const MAX_ERROR_MESSAGE_LENGTH = 2_000;

function uniqueIds(ids: readonly number[], field: string): void {
  if (new Set(ids).size !== ids.length) throw new SluiceError("VALIDATION_FAILED", `${field} lists an item twice`, { details: { field } });
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 1)
      throw new SluiceError("VALIDATION_FAILED", `${field} holds an invalid item id`, { details: { field } });
  }
}

function validateModel(model: unknown): string {
  if (typeof model === "string" && model.length > 0 && model.length <= 200) return model;
  throw new SluiceError("VALIDATION_FAILED", "model must be 1-200 characters", { details: { field: "model" } });
}

const COMPLETE_SQL = `
UPDATE shop_product_embeddings s
SET embedding = u.v, dimensions = $3, model = $4, status = 'completed', error_message = NULL,
    claimed_by = NULL, claimed_at = NULL, embedded_at = now(), updated_at = now()
FROM unnest($1::bigint[], $2::vector[]) AS u(id, v)
WHERE s.id = u.id AND s.status = 'processing' AND s.claimed_by = $5`;

/**
 * Writes vectors for claimed items and marks them `completed`, in statements of `writeChunkSize`
 * rows with the vectors in binary form. Only rows still claimed by `workerId` are written, so a slow worker whose claim
 * was taken back can never overwrite newer work.
 */
export async function completeItems(db: Queryable, options: CompleteOptions): Promise<CompleteResult> {
  const workerId = validateWorkerId(options.workerId);
  const model = validateModel(options.model);
  const { results } = options;
  if (results.length === 0) return { completed: 0, skipped: 0 };
  const dimensions = options.dimensions ?? results[0]?.vector.length ?? 0;
  const ids = results.map((r) => r.id);
  uniqueIds(ids, "results");
  const vectors = results.map((r, i) => validateVector(r.vector, dimensions, `results[${i}].vector`));
  const oid = await vectorTypeOid(db);
  const size = options.writeChunkSize ?? VECTOR_WRITE_CHUNK;
  let completed = 0;
  for (let from = 0; from < ids.length; from += size) {
    const slice = vectors.slice(from, from + size);
    const { rowCount } = await db.query(COMPLETE_SQL, [
      ids.slice(from, from + size),
      vectorArrayParam(oid, slice),
      dimensions,
      model,
      workerId,
    ]);
    completed += rowCount;
  }
  return { completed, skipped: results.length - completed };
}

export interface Failure {
  id: number;
  /** Why; stored in error_message (first 2,000 characters) and grouped by the errors report. */
  message: string;
  /** Do not retry (e.g. the provider rejected the input): straight to `failed`. @default false */
  permanent?: boolean;
}

export interface FailOptions {
  workerId: string;
  failures: readonly Failure[];
  /** Failed attempts after which the item stays `failed`. @default 3 */
  maxAttempts?: number | undefined;
}

export interface FailResult {
  /** Back to `pending` for another attempt. */
  requeued: number;
  /** Now `failed` (attempts used up, or permanent). */
  failed: number;
  /** No longer this worker's claim: untouched. */
  skipped: number;
}

function cleanErrorMessage(message: unknown): string {
  const text = typeof message === "string" && message.length > 0 ? message : "unknown error";
  return text.replaceAll("\u0000", "").slice(0, MAX_ERROR_MESSAGE_LENGTH);
}

const FAIL_SQL = `
UPDATE shop_product_embeddings s
SET retry_count = s.retry_count + 1,
    status = CASE WHEN u.permanent OR s.retry_count + 1 >= $4 THEN 'failed' ELSE 'pending' END,
    error_message = u.message, claimed_by = NULL, claimed_at = NULL, batch_id = NULL, updated_at = now()
FROM unnest($1::bigint[], $2::text[], $3::boolean[]) AS u(id, message, permanent)
WHERE s.id = u.id AND s.status = 'processing' AND s.claimed_by = $5
RETURNING s.status`;

/**
 * Records failed attempts: retry_count + 1 and error_message; the item goes back to `pending`
 * while attempts remain, else (or when permanent) it stays `failed` until an operator re-queues it.
 */
export async function failItems(db: Queryable, options: FailOptions): Promise<FailResult> {
  const workerId = validateWorkerId(options.workerId);
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const { failures } = options;
  if (failures.length === 0) return { requeued: 0, failed: 0, skipped: 0 };
  const ids = failures.map((f) => f.id);
  uniqueIds(ids, "failures");
  const messages = failures.map((f) => cleanErrorMessage(f.message));
  const permanent = failures.map((f) => f.permanent === true);
  const { rows } = await db.query<{ status: string }>(FAIL_SQL, [ids, messages, permanent, maxAttempts, workerId]);
  const failed = rows.filter((r) => r.status === "failed").length;
  return { requeued: rows.length - failed, failed, skipped: failures.length - rows.length };
}
