import { isSluiceError } from "../../core/errors.ts";
import type { Counter } from "../../ports/metrics.ts";
import type { Queryable } from "../../ports/store.ts";
import { claimItems, releaseClaims, type ClaimOptions } from "./sql/claim.ts";
import { completeItems, failItems, type EmbeddingResult, type Failure } from "./sql/results.ts";
import type { ClaimedItem, Vector } from "./sql/types.ts";
import { validateVector } from "./sql/vector-codec.ts";

/** Embeds the texts, one vector per text in the same order (the provider call, through the task runtime). */
type EmbedFn = (texts: string[], context: { items: readonly ClaimedItem[]; signal: AbortSignal | undefined }) => Promise<readonly Vector[]>;

export interface EmbedChunkOptions extends ClaimOptions {
  /** Stored with each vector. */
  model: string;
  embed: EmbedFn;
  /** Expected dimensions; a vector of another length fails its item. The first vector's length when absent. */
  dimensions?: number;
  /** @default 3 */
  maxAttempts?: number;
  /**
   * The kill switch: aborted before the claim, nothing is claimed; aborted while embedding, the
   * chunk is released back to `pending` (no attempt counted) instead of failed.
   */
  signal?: AbortSignal;
  /** Whether an embed error should not be retried. @default a SluiceError with retryable false */
  isPermanent?: (err: unknown) => boolean;
  /** Counts completed items (ai_embedded_items_total). */
  embeddedItems?: Counter;
}

export interface EmbedChunkResult {
  claimed: number;
  completed: number;
  requeued: number;
  failed: number;
  released: number;
  /** Results dropped because the claim was lost meanwhile (see CompleteResult.skipped). */
  skipped: number;
}

const empty = (): EmbedChunkResult => ({ claimed: 0, completed: 0, requeued: 0, failed: 0, released: 0, skipped: 0 });

const defaultIsPermanent = (err: unknown): boolean => isSluiceError(err) && !err.retryable;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function splitResults(
  items: readonly ClaimedItem[],
  vectors: readonly Vector[],
  dimensions: number,
): { ok: EmbeddingResult[]; bad: Failure[] } {
  const ok: EmbeddingResult[] = [];
  const bad: Failure[] = [];
  items.forEach((item, i) => {
    try {
      ok.push({ id: item.id, vector: validateVector(vectors[i], dimensions, "embedding") });
    } catch (err) {
      bad.push({ id: item.id, message: `provider returned an invalid embedding: ${messageOf(err)}` });
    }
  });
  return { ok, bad };
}

/**
 * One backfill step for a queue worker: claim a chunk, embed it through `embed`, write the vectors
 * (or record the failure). Safe to run from many processes at once: claims never overlap.
 */
export async function embedNextChunk(db: Queryable, options: EmbedChunkOptions): Promise<EmbedChunkResult> {
  const result = empty();
  if (options.signal?.aborted) return result;
  const items = await claimItems(db, options);
  result.claimed = items.length;
  if (items.length === 0) return result;
  const { workerId, maxAttempts } = options;
  let vectors: readonly Vector[];
  try {
    vectors = await options.embed(
      items.map((i) => i.text),
      { items, signal: options.signal },
    );
  } catch (err) {
    if (options.signal?.aborted) {
      result.released = await releaseClaims(db, { workerId, ids: items.map((i) => i.id) });
      return result;
    }
    const permanent = (options.isPermanent ?? defaultIsPermanent)(err);
    const failures = items.map((i) => ({ id: i.id, message: messageOf(err), permanent }));
    return { ...result, ...(await failItems(db, { workerId, failures, maxAttempts })) };
  }
  if (vectors.length !== items.length) {
    const message = `provider returned ${vectors.length} embeddings for ${items.length} texts`;
    return { ...result, ...(await failItems(db, { workerId, failures: items.map((i) => ({ id: i.id, message })), maxAttempts })) };
  }
  const dimensions = options.dimensions ?? vectors[0]?.length ?? 0;
  const { ok, bad } = splitResults(items, vectors, dimensions);
  const done = await completeItems(db, { workerId, model: options.model, results: ok, dimensions });
  const failed = await failItems(db, { workerId, failures: bad, maxAttempts });
  if (done.completed > 0) options.embeddedItems?.inc({}, done.completed);
  return { ...result, completed: done.completed, skipped: done.skipped + failed.skipped, requeued: failed.requeued, failed: failed.failed };
}
