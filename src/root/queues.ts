import type { SluiceConfig } from "../core/config.ts";
import { APPROVALS_QUEUE } from "../pipeline/approvals/index.ts";
import { MAINTENANCE_QUEUE } from "../pipeline/ops/audit-retention.ts";
import type { QueueManager } from "../pipeline/queues/queue-manager.ts";
import { RUNS_QUEUE } from "../pipeline/runs/index.ts";
import { SCHEDULES_QUEUE } from "../pipeline/schedules/index.ts";
import { WEBHOOKS_QUEUE } from "../pipeline/webhooks/index.ts";

/** The queue `POST /ai/jobs` uses when neither the request nor the task names one. */
export const DEFAULT_QUEUE = "ai-jobs";
/** The embeddings backfill's queue, named as runbook 000 knows it. */
export const BATCH_QUEUE = "ai-batch-queue";

/**
 * Queues Sluice's own workers serve: the jobs API refuses them as a job's queue, and task workers
 * leave them to their services' workers.
 */
export const BUILT_IN_QUEUES: readonly string[] = [
  BATCH_QUEUE,
  APPROVALS_QUEUE,
  SCHEDULES_QUEUE,
  RUNS_QUEUE,
  WEBHOOKS_QUEUE,
  MAINTENANCE_QUEUE,
];

/** The task queues the config names (default, extra, groups, this process's WORKER_QUEUES) and the backfill's. */
export function declareQueues(queues: QueueManager, config: SluiceConfig): void {
  const grouped = Object.values(config.queue.groups).flat();
  for (const name of new Set([DEFAULT_QUEUE, BATCH_QUEUE, ...config.queue.extraQueues, ...grouped, ...config.queue.workerQueues]))
    queues.declare(name);
}
