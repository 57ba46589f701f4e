import { applyBatchResults, finishBatch, listBatches, updateBatch, type BatchRow } from "./sql/index.ts";
import { parseOutputJsonl, type EmbeddingBatchApi, type RemoteBatch } from "./batch-jsonl.ts";
import type { BackfillContext } from "./context.ts";

/** A batch row with no provider id this long after it was recorded never reached the provider (its worker died). */
const ORPHAN_BATCH_MS = 10 * 60_000;
const APPLY_CHUNK = 1_000;

export interface PollResult {
  checked: number;
  completed: number;
  failed: number;
  expired: number;
  /** Items written from downloaded results. */
  applied: number;
}

async function applyFile(ctx: BackfillContext, api: EmbeddingBatchApi, batch: BatchRow, fileId: string): Promise<number> {
  const parsed = parseOutputJsonl(await api.download(fileId), batch.dimensions);
  const model = parsed.model ?? batch.model;
  let applied = 0;
  for (let i = 0; i < Math.max(parsed.results.length, parsed.failures.length); i += APPLY_CHUNK) {
    const done = await applyBatchResults(ctx.store, batch.id, {
      model,
      results: parsed.results.slice(i, i + APPLY_CHUNK),
      failures: parsed.failures.slice(i, i + APPLY_CHUNK),
      maxAttempts: ctx.options.maxAttempts,
    });
    applied += done.completed;
  }
  if (applied > 0) ctx.embeddedItems.inc({}, applied);
  return applied;
}

/** Downloads what the provider produced (results and per-line errors) and applies it to the batch's items. */
async function applyFiles(ctx: BackfillContext, api: EmbeddingBatchApi, batch: BatchRow, remote: RemoteBatch): Promise<number> {
  if (remote.outputFileId) await updateBatch(ctx.store, batch.id, { outputFileId: remote.outputFileId });
  let applied = 0;
  for (const fileId of [remote.outputFileId, remote.errorFileId]) {
    if (fileId) applied += await applyFile(ctx, api, batch, fileId);
  }
  return applied;
}

type Outcome = "open" | "completed" | "failed" | "expired";

async function close(ctx: BackfillContext, batch: BatchRow, status: "completed" | "failed" | "expired", error?: string): Promise<Outcome> {
  const closed = await finishBatch(ctx.store, batch.id, { status, ...(error ? { error } : {}), maxAttempts: ctx.options.maxAttempts });
  ctx.logger.info(
    { batch: batch.id, providerBatchId: batch.provider_batch_id, status, requeued: closed.requeued, failed: closed.failed, error },
    `embedding batch ${status}`,
  );
  return status;
}

async function pollOne(ctx: BackfillContext, api: EmbeddingBatchApi, batch: BatchRow, result: PollResult): Promise<Outcome> {
  if (!batch.provider_batch_id) {
    const orphaned = Date.now() - new Date(batch.submitted_at).getTime() > ORPHAN_BATCH_MS;
    return orphaned ? close(ctx, batch, "failed", "the batch never reached the provider (its worker stopped while submitting)") : "open";
  }
  const remote = await api.retrieve(batch.provider_batch_id);
  switch (remote.status) {
    case "validating":
    case "cancelling":
      return "open";
    case "in_progress":
    case "finalizing":
      if (batch.status === "submitted") await updateBatch(ctx.store, batch.id, { status: "processing" });
      return "open";
    case "completed":
      result.applied += await applyFiles(ctx, api, batch, remote);
      return close(ctx, batch, "completed");
    case "expired":
      // Whatever finished inside the 24 h window is kept; the rest goes back to pending.
      result.applied += await applyFiles(ctx, api, batch, remote);
      return close(ctx, batch, "expired", "the provider expired the batch before it finished");
    case "cancelled":
      return close(ctx, batch, "failed", "the batch was cancelled at the provider");
    default:
      return close(ctx, batch, "failed", remote.error ?? "the provider failed the batch");
  }
}

/**
 * Polls every open batch once (the sweep calls this). Batches are closed exactly once:
 * `finishBatch` only closes an open batch, and results are written only to items the batch still holds.
 */
export async function pollBatches(ctx: BackfillContext): Promise<PollResult> {
  const result: PollResult = { checked: 0, completed: 0, failed: 0, expired: 0, applied: 0 };
  const api = ctx.batchApi;
  if (!api) return result;
  for (const batch of await listBatches(ctx.store, { statuses: ["submitted", "processing"], limit: 1_000 })) {
    result.checked++;
    try {
      const outcome = await pollOne(ctx, api, batch, result);
      if (outcome !== "open") result[outcome]++;
    } catch (err) {
      ctx.logger.warn(
        { err, batch: batch.id, providerBatchId: batch.provider_batch_id },
        "embedding batch poll failed; will try again at the next sweep",
      );
    }
  }
  return result;
}
