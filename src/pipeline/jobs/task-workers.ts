import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import { isSluiceError, RetryLaterError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { WorkerHandle } from "../queues/types.ts";
import { isEnvelope } from "./job-view.ts";
import type { TaskRegistry } from "./tasks.ts";

export interface TaskWorkerOptions {
  queues: QueueManager;
  tasks: TaskRegistry;
  logger: Logger;
  /** Queues to work; @default every declared queue except those in `exclude` */
  names?: readonly string[];
  exclude?: readonly string[];
  concurrency?: number;
  /**
   * Runs before each job's handler (kill switches, budgets). A `RetryLaterError` it throws puts the
   * job back, delayed by `retryAfterMs`, without spending an attempt.
   */
  gate?: JobGate;
}

export type JobGate = (job: { type: string; workspace: string; queue: string }) => Promise<void>;

/**
 * Runs task jobs: looks up the handler by the job's type and runs it with its context. An error a
 * handler marks non-retryable (or an unknown type, or a malformed job) fails the job at once
 * instead of spending its attempts.
 */
export function taskProcessor(tasks: TaskRegistry, logger: Logger, queue: string, gate?: JobGate) {
  return async (job: Job, token?: string, signal?: AbortSignal): Promise<unknown> => {
    if (!isEnvelope(job.data)) throw new UnrecoverableError("Malformed job: no workspace/type envelope");
    const task = tasks.get(job.data.type);
    if (!task) throw new UnrecoverableError(`Unknown job type "${job.data.type}"`);
    const jobLogger = logger.child({ queue, jobId: job.id, type: task.name, workspace: job.data.workspace });
    try {
      await gate?.({ type: task.name, workspace: job.data.workspace, queue });
    } catch (err) {
      if (!(err instanceof RetryLaterError)) throw err;
      jobLogger.info({ code: err.code, delayMs: err.retryAfterMs }, "job deferred");
      await job.moveToDelayed(Date.now() + err.retryAfterMs, token);
      throw new DelayedError(`${err.code}: ${err.message}`);
    }
    try {
      return await task.handler(job.data.input, {
        jobId: job.id ?? "",
        queue,
        workspace: job.data.workspace,
        attempt: job.attemptsMade + 1,
        signal,
        logger: jobLogger,
        progress: (value) => job.updateProgress(value),
      });
    } catch (err) {
      if (isSluiceError(err) && !err.retryable) throw new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err;
    }
  };
}

export async function startTaskWorkers(options: TaskWorkerOptions): Promise<WorkerHandle[]> {
  const exclude = new Set(options.exclude ?? []);
  const names = (options.names ?? options.queues.names()).filter((n) => !exclude.has(n));
  const logger = options.logger.child({ component: "task-worker" });
  return Promise.all(
    names.map((name) => options.queues.startWorker(name, taskProcessor(options.tasks, logger, name, options.gate), options.concurrency ? { concurrency: options.concurrency } : {})),
  );
}
