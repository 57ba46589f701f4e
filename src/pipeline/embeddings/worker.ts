import type { Job } from "bullmq";
import { SluiceError } from "../../core/errors.ts";
import { reclaimStaleClaims, stuckBatches, type ReclaimResult } from "./sql/index.ts";
import { validateWorkspaceId } from "../../core/workspace-id.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { WorkerHandle } from "../queues/types.ts";
import { SWEEP_JOB, SWEEP_SCHEDULER, WORKSPACE_JOB, type BackfillContext, type DrainSummary } from "./context.ts";
import { drainWorkspace } from "./drain.ts";
import { pollBatches, type PollResult } from "./poll-batches.ts";

export interface SweepResult {
  reclaimed: ReclaimResult;
  batches: PollResult;
  /** Open batches older than 2 h. */
  stuck: number;
  /** Workspaces queued because they have pending items (0 while the kill switch is off). */
  queued: number;
}

/**
 * The periodic sweep: takes back claims of workers that died, polls provider batches, and queues
 * every workspace that has pending items (new work is usually queued at ingest already; this
 * catches the rest: re-queued failures, reclaimed items, a restart).
 */
export async function sweep(ctx: BackfillContext): Promise<SweepResult> {
  const reclaimed = await reclaimStaleClaims(ctx.store, { olderThanMs: ctx.options.claimTimeoutMs, maxAttempts: ctx.options.maxAttempts });
  if (reclaimed.requeued + reclaimed.failed > 0)
    ctx.logger.warn({ ...reclaimed }, "took back embedding items from workers that stopped without reporting");
  const batches = await pollBatches(ctx);
  const stuck = await stuckBatches(ctx.store);
  if (stuck.length > 0) {
    ctx.logger.warn(
      { batches: stuck.map((b) => b.id), oldestAgeSeconds: Math.round(stuck[0]?.ageSeconds ?? 0) },
      "embedding batches stuck for more than 2 h (see sluice backlog)",
    );
  }
  const queued = (await ctx.killSwitch.check()) ? await ctx.scheduleAll() : 0;
  return { reclaimed, batches, stuck: stuck.length, queued };
}

/** The processor of `ai-batch-queue`: workspace jobs and sweep jobs. */
function backfillProcessor(ctx: BackfillContext) {
  return async (job: Job, _token?: string, signal?: AbortSignal): Promise<DrainSummary | SweepResult> => {
    if (job.name === SWEEP_JOB) return sweep(ctx);
    if (job.name === WORKSPACE_JOB) {
      const workspaceId = validateWorkspaceId((job.data as { workspaceId?: unknown } | undefined)?.workspaceId);
      const summary = await drainWorkspace(ctx, workspaceId, signal);
      if (summary.claimed > 0) ctx.logger.info({ ...summary }, "backfill step finished");
      return summary;
    }
    throw new SluiceError("JOB_TYPE_UNKNOWN", `ai-batch-queue runs only the embeddings backfill, not "${job.name}"`, {
      details: { name: job.name },
    });
  };
}

/**
 * Upserts the sweep's job scheduler (idempotent across processes: one scheduler, one sweep job per
 * period, whichever worker takes it).
 */
async function ensureSweepScheduler(queues: QueueManager, queue: string, everyMs: number): Promise<void> {
  const bull = queues.bullQueues().find((q) => q.name === queue);
  if (!bull) throw new SluiceError("QUEUE_NOT_FOUND", `No queue named "${queue}"`);
  await bull.upsertJobScheduler(
    SWEEP_SCHEDULER,
    { every: everyMs },
    { name: SWEEP_JOB, data: {}, opts: { removeOnComplete: { count: 20 }, removeOnFail: { count: 100 }, attempts: 1 } },
  );
}

/** Starts this process's backfill worker on the queue. */
export async function startBackfillWorker(ctx: BackfillContext, queues: QueueManager): Promise<WorkerHandle> {
  await ensureSweepScheduler(queues, ctx.options.queue, ctx.options.sweepMs);
  return queues.startWorker(ctx.options.queue, backfillProcessor(ctx), { concurrency: ctx.options.concurrency });
}
