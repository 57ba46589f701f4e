import type { PrometheusMetrics } from "../adapters/metrics/prometheus.ts";
import type { SluiceConfig } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import { APPROVALS_QUEUE, type Approvals } from "../pipeline/approvals/index.ts";
import type { EmbeddingsService } from "../pipeline/embeddings/index.ts";
import type { Admission } from "../pipeline/jobs/admission.ts";
import type { JobIndex } from "../pipeline/jobs/job-index.ts";
import { startTaskWorkers } from "../pipeline/jobs/task-workers.ts";
import { MAINTENANCE_QUEUE, type AuditRetention } from "../pipeline/ops/audit-retention.ts";
import type { QueueManager } from "../pipeline/queues/queue-manager.ts";
import type { WorkerHandle } from "../pipeline/queues/types.ts";
import type { WorkerRegistry } from "../pipeline/queues/worker-registry.ts";
import { RUNS_QUEUE, type Runs } from "../pipeline/runs/index.ts";
import { SCHEDULES_QUEUE, type Schedules } from "../pipeline/schedules/index.ts";
import type { TaskRegistry } from "../pipeline/tasks/registry.ts";
import { WEBHOOKS_QUEUE, type Webhooks } from "../pipeline/webhooks/index.ts";
import { BATCH_QUEUE, BUILT_IN_QUEUES } from "./queues.ts";

/** Everything that runs a worker: task queues and each built-in queue's service. */
export interface WorkerServices {
  config: SluiceConfig;
  logger: Logger;
  metrics: PrometheusMetrics;
  queues: QueueManager;
  tasks: TaskRegistry;
  admission: Admission;
  jobIndex: JobIndex;
  webhooks: Webhooks;
  approvals: Approvals;
  schedules: Schedules;
  auditRetention: AuditRetention;
  embeddings: EmbeddingsService;
  runs: Runs;
  workers: WorkerRegistry;
}

export interface StartWorkersOptions {
  /** Jobs at once per queue, over WORKER_CONCURRENCY. */
  concurrency?: number;
  /** @default "worker" */
  role?: string;
}

function startTaskQueueWorkers(
  s: WorkerServices,
  serves: (queue: string) => boolean,
  concurrencyOf: (queue: string) => number | undefined,
): Promise<WorkerHandle[]> {
  return startTaskWorkers({
    queues: s.queues,
    tasks: s.tasks,
    logger: s.logger,
    metrics: s.metrics,
    names: s.queues.names().filter(serves),
    exclude: BUILT_IN_QUEUES,
    gate: s.admission.beforeRun,
    onSettled: async (outcome) => {
      const { envelope } = outcome;
      await s.jobIndex.settle({
        workspaceId: envelope.workspace,
        jobId: outcome.id,
        queue: outcome.queue,
        type: envelope.type,
        state: outcome.status,
        createdMs: outcome.createdMs,
      });
      await s.webhooks.jobSettled(outcome);
    },
    maxWaitMs: s.config.ai.maxWaitForProviderMs,
    concurrencyOf,
  });
}

/**
 * Starts workers for the queues this process serves (WORKER_QUEUES, else every queue) and
 * registers the process in the fleet's worker registry under `role`.
 */
export async function startWorkers(s: WorkerServices, { role = "worker", ...options }: StartWorkersOptions = {}): Promise<WorkerHandle[]> {
  const { workerQueues, workerConcurrency } = s.config.queue;
  // WORKER_QUEUES: this process serves those queues and no other, the built-in ones included.
  const serves = (queue: string) => workerQueues.length === 0 || workerQueues.includes(queue);
  const concurrencyOf = (queue: string) => options.concurrency ?? workerConcurrency[queue];
  const handles = await startTaskQueueWorkers(s, serves, concurrencyOf);
  if (serves(APPROVALS_QUEUE)) handles.push(await s.approvals.startWorker());
  if (serves(SCHEDULES_QUEUE)) handles.push(await s.schedules.startWorker());
  if (serves(WEBHOOKS_QUEUE)) handles.push(await s.webhooks.startWorker());
  if (serves(MAINTENANCE_QUEUE)) handles.push(await s.auditRetention.startWorker());
  const backfill = serves(BATCH_QUEUE) ? await s.embeddings.startWorker() : undefined;
  if (backfill) handles.push(backfill);
  const runConcurrency = concurrencyOf(RUNS_QUEUE);
  if (serves(RUNS_QUEUE)) handles.push(await s.runs.startWorker(runConcurrency ? { concurrency: runConcurrency } : {}));
  s.workers.start(role);
  return handles;
}
