import { setTimeout as sleep } from "node:timers/promises";
import { RateLimitedError, RetryLaterError } from "../../core/errors.ts";
import { embedNextChunk } from "./embed-chunk.ts";
import { claimItems, createBatch, finishBatch, releaseClaims, updateBatch } from "./sql/index.ts";
import { buildInputJsonl } from "./batch-jsonl.ts";
import type { BackfillContext, DrainSummary, StopReason } from "./context.ts";

/** What one step (a chunk embedded, or a batch submitted) did. */
interface StepOutcome {
  claimed: number;
  completed?: number;
  requeued?: number;
  failed?: number;
  released?: number;
  submitted?: number;
  /** Nothing of the chunk succeeded: back off before the next claim. */
  failedChunk: boolean;
  /** The provider asked to wait this long (every route rate limited): the chunk was released. */
  retryAfterMs?: number;
}

type Step = (ctx: BackfillContext, workspaceId: string, signal: AbortSignal) => Promise<StepOutcome>;

/** Waits, or stops early when `signal` aborts (the kill switch, a shutdown). */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

function backoff(ctx: BackfillContext, failures: number): number {
  return Math.min(ctx.options.maxRetryDelayMs, ctx.options.retryDelayMs * 2 ** (failures - 1));
}

/**
 * The synchronous step: claim a chunk of the workspace, embed it through the provider runtime
 * (limits, retries, breaker, fallbacks), write vectors or record failures. A 429 that outlasts the
 * runtime's own waiting, or an open breaker, releases the chunk (no attempt counted) and waits as
 * long as the provider or the breaker says.
 */
const syncStep: Step = async (ctx, workspaceId, signal) => {
  const rateLimited = new AbortController();
  let retryAfterMs: number | undefined;
  let served = ctx.options.model;
  const result = await embedNextChunk(ctx.store, {
    workerId: ctx.workerId,
    workspaceId,
    limit: ctx.options.chunkSize,
    dimensions: ctx.options.dimensions,
    maxAttempts: ctx.options.maxAttempts,
    embeddedItems: ctx.embeddedItems,
    signal: AbortSignal.any([signal, rateLimited.signal]),
    // Read after `embed` returns: each vector is stored with the model that actually made it.
    get model() {
      return served;
    },
    embed: async (texts, { signal: callSignal }) => {
      try {
        const answer = await ctx.runtime.embed(
          { inputs: texts, dimensions: ctx.options.dimensions, signal: callSignal },
          { task: "embeddings.backfill" },
        );
        served = answer.model;
        return answer.vectors;
      } catch (err) {
        // Refused for now (a 429 past the runtime's wait, a breaker that is open, a provider switched
        // off): nothing was tried, so the chunk goes back without counting an attempt on its items.
        if (err instanceof RateLimitedError || err instanceof RetryLaterError) {
          retryAfterMs = err.retryAfterMs;
          rateLimited.abort(err);
        }
        throw err;
      }
    },
  });
  const { claimed, completed, requeued, failed, released } = result;
  return {
    claimed,
    completed,
    requeued,
    failed,
    released,
    failedChunk: completed === 0 && requeued + failed > 0,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
};

/**
 * The batch-mode step: claim up to EMBEDDING_BATCH_SIZE items, record the batch (the claims move to
 * `batch:<id>`), upload the JSONL and create the provider batch. A failed submission closes the
 * batch as failed, which counts an attempt on its items and puts them back to `pending`.
 */
const batchStep: Step = async (ctx, workspaceId, signal) => {
  const api = ctx.batchApi;
  if (!api) throw new Error("batch mode needs a batch API");
  const { workerId, options } = ctx;
  const items = await claimItems(ctx.store, { workerId, workspaceId, limit: options.batchSize });
  if (items.length === 0) return { claimed: 0, failedChunk: false };
  const ids = items.map((i) => i.id);
  if (signal.aborted) return { claimed: items.length, released: await releaseClaims(ctx.store, { workerId, ids }), failedChunk: false };
  const batch = await createBatch(ctx.store, {
    workerId,
    itemIds: ids,
    provider: api.provider,
    model: options.model,
    dimensions: options.dimensions,
    workspaceId,
  });
  try {
    const inputFileId = await api.uploadInput(
      buildInputJsonl(items, { model: options.model, dimensions: options.dimensions, sendDimensions: true }),
    );
    const remote = await api.create(inputFileId, { sluice_batch_id: String(batch.id), workspace: workspaceId });
    await updateBatch(ctx.store, batch.id, { providerBatchId: remote.id, inputFileId });
    ctx.logger.info(
      { batch: batch.id, providerBatchId: remote.id, workspace: workspaceId, items: batch.total_items },
      "embedding batch submitted",
    );
    return { claimed: items.length, submitted: batch.total_items, failedChunk: false };
  } catch (err) {
    const error = `batch submission failed: ${err instanceof Error ? err.message : String(err)}`;
    const closed = await finishBatch(ctx.store, batch.id, { status: "failed", error, maxAttempts: options.maxAttempts });
    ctx.logger.warn({ batch: batch.id, workspace: workspaceId, err: error }, "embedding batch submission failed");
    return { claimed: items.length, requeued: closed.requeued, failed: closed.failed, failedChunk: true };
  }
};

function add(summary: DrainSummary, step: StepOutcome): void {
  summary.claimed += step.claimed;
  summary.completed += step.completed ?? 0;
  summary.requeued += step.requeued ?? 0;
  summary.failed += step.failed ?? 0;
  summary.released += step.released ?? 0;
  summary.submitted += step.submitted ?? 0;
}

/** Why to stop before the next step, if at all. */
async function stopReason(ctx: BackfillContext, startedAt: number): Promise<StopReason | undefined> {
  if (!(await ctx.killSwitch.check())) return "disabled";
  const interrupted = await ctx.interrupted();
  if (interrupted) return interrupted;
  if (Date.now() - startedAt >= ctx.options.sliceMs) return "slice";
  return undefined;
}

/**
 * A workspace job: steps until the workspace has nothing pending, the kill switch turns off, the
 * queue is paused, the worker shuts down, or its time slice ends. Paused, closing and slice
 * re-queue the workspace (a follow-up job, deduplicated); disabled does not: turning the switch
 * back on queues every workspace with pending items.
 */
export async function drainWorkspace(ctx: BackfillContext, workspaceId: string, jobSignal?: AbortSignal): Promise<DrainSummary> {
  const step = ctx.options.batchMode === "openai" && ctx.batchApi ? batchStep : syncStep;
  const summary: DrainSummary = {
    workspaceId,
    claimed: 0,
    completed: 0,
    requeued: 0,
    failed: 0,
    released: 0,
    submitted: 0,
    stopped: "drained",
  };
  const startedAt = Date.now();
  let failures = 0;
  for (;;) {
    const stop = await stopReason(ctx, startedAt);
    if (stop) {
      if (stop !== "disabled") await ctx.schedule(workspaceId);
      return { ...summary, stopped: stop };
    }
    const signal = AbortSignal.any([ctx.killSwitch.signal, ctx.closing, ...(jobSignal ? [jobSignal] : [])]);
    const outcome = await step(ctx, workspaceId, signal);
    add(summary, outcome);
    if (outcome.claimed === 0) return summary;
    failures = outcome.failedChunk ? failures + 1 : 0;
    const wait = outcome.retryAfterMs ?? (failures > 0 ? backoff(ctx, failures) : 0);
    if (wait > 0) await pause(Math.min(wait, ctx.options.maxRetryDelayMs), signal);
  }
}
