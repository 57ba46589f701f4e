import { UnrecoverableError, type Job } from "bullmq";
import { isSluiceError, NonRetryableError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Counter, Metrics } from "../../ports/metrics.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { WorkerHandle } from "../queues/types.ts";
import { defer, deferralOf, deferredCounter, waitingSince, type Deferral, type DeferOptions } from "./deferral.ts";
import { isEnvelope, type JobEnvelope } from "./job-view.ts";
import type { TaskRegistry } from "../tasks/registry.ts";

export interface TaskWorkerOptions {
  queues: QueueManager;
  tasks: TaskRegistry;
  logger: Logger;
  /** Queues to work; @default every declared queue except those in `exclude` */
  names?: readonly string[];
  exclude?: readonly string[];
  concurrency?: number;
  /** Jobs at once per queue (WORKER_CONCURRENCY); `concurrency` wins when both are given. */
  concurrencyOf?: (queue: string) => number | undefined;
  /**
   * Runs before each job's handler (kill switches, budgets). A `RetryLaterError` it throws puts the
   * job back, delayed by `retryAfterMs`, without spending an attempt.
   */
  gate?: JobGate;
  /**
   * Longest a job waits in total, without spending attempts, for a provider that refuses it for now
   * or a dependency that is unavailable; then it fails with MAX_WAIT_EXCEEDED
   * (AI_MAX_WAIT_FOR_PROVIDER_MS). @default 3600000
   */
  maxWaitMs?: number;
  /** Where `ai_jobs_deferred_total{queue,code}` is counted. */
  metrics?: Metrics;
  /** Told of each job's final outcome (completed, or failed with no attempt left) before BullMQ stores it. */
  onSettled?: JobSettledHook;
}

interface JobOutcome {
  queue: string;
  id: string;
  envelope: JobEnvelope;
  status: "completed" | "failed";
  result?: unknown;
  /** `CODE: message`, as the job's failed reason will read. */
  reason?: string;
  /** Runs so far, this one included. */
  attempts: number;
  /** When the job was taken (the queue's timestamp, ms since epoch). */
  createdMs: number;
}

/**
 * Completion webhooks hang here. Awaited before the processor returns or throws, so what it
 * records is durable before the outcome is (a crash between the two runs the job again, and the
 * hook again, rather than losing it). Its own failure is logged, never the job's.
 */
type JobSettledHook = (outcome: JobOutcome) => Promise<void>;

type JobGate = (job: { type: string; workspace: string; queue: string }) => Promise<void>;

interface TaskProcessorOptions {
  gate?: JobGate | undefined;
  /** @default 3600000 */
  maxWaitMs?: number | undefined;
  deferred?: Counter | undefined;
  onSettled?: JobSettledHook | undefined;
}

/** Whether a thrown error ends the job: it cannot be retried, or this was its last attempt. */
function isFinalFailure(job: Job, err: unknown): boolean {
  if (err instanceof UnrecoverableError) return true;
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/** `CODE: message` for a SluiceError or NonRetryableError (retryable or not), the plain message for anything else: the reason BullMQ will store. */
function failureOf(err: unknown): Error {
  if (err instanceof NonRetryableError) return new UnrecoverableError(`${err.code}: ${err.message}`);
  if (!isSluiceError(err)) return err instanceof Error ? err : new Error(String(err));
  if (!err.retryable) return new UnrecoverableError(`${err.code}: ${err.message}`);
  return Object.assign(new Error(`${err.code}: ${err.message}`, { cause: err }), { stack: err.stack });
}

/**
 * Runs task jobs: looks up the handler by the job's type and runs it with its context. An error a
 * handler marks non-retryable (or an unknown type, or a malformed job) fails the job at once
 * instead of spending its attempts. A "not now" (kill switch, budget, a provider refusing for now,
 * an unavailable dependency), from the gate or the handler, delays the job without spending one.
 */
function taskProcessor(tasks: TaskRegistry, logger: Logger, queue: string, options: TaskProcessorOptions = {}) {
  const maxWaitMs = options.maxWaitMs ?? 3_600_000;
  return async (job: Job, token?: string, signal?: AbortSignal): Promise<unknown> => {
    if (!isEnvelope(job.data)) throw new UnrecoverableError("Malformed job: no workspace/type envelope");
    const task = tasks.get(job.data.type);
    if (!task) throw new UnrecoverableError(`JOB_TYPE_UNKNOWN: Unknown job type "${job.data.type}"`);
    const envelope = job.data;
    const { workspace, input } = envelope;
    const jobLogger = logger.child({ queue, jobId: job.id, type: task.name, workspace });
    const settled = async (outcome: Pick<JobOutcome, "status" | "result" | "reason">): Promise<void> => {
      if (!options.onSettled) return;
      try {
        await options.onSettled({
          queue,
          id: String(job.id),
          envelope,
          attempts: job.attemptsMade + 1,
          createdMs: job.timestamp,
          ...outcome,
        });
      } catch (err) {
        jobLogger.error({ err }, "could not record the job's completion callback");
      }
    };
    try {
      await options.gate?.({ type: task.name, workspace, queue });
      const result = await task.handler(input, {
        jobId: job.id ?? "",
        queue,
        workspace,
        attempt: job.attemptsMade + 1,
        signal,
        logger: jobLogger,
        progress: (value) => job.updateProgress(value),
      });
      await settled({ status: "completed", result });
      return result;
    } catch (err) {
      const since = waitingSince(job);
      const deferral = signal?.aborted ? undefined : deferralOf(err, since === undefined ? 0 : Date.now() - since);
      if (deferral) return deferAndTell(job, token, deferral, { maxWaitMs, logger: jobLogger, deferred: options.deferred, queue }, settled);
      // `CODE: message`, the shape a job's reason always has, so readers can tell what kind of failure it was.
      const failure = failureOf(err);
      // An aborted run (shutdown, abandoned) is not an outcome: the job goes back to the queue.
      if (!signal?.aborted && isFinalFailure(job, failure)) await settled({ status: "failed", reason: failure.message });
      throw failure;
    }
  };
}

/** `defer`, telling the hook when the deferral ends the job instead (MAX_WAIT_EXCEEDED). */
async function deferAndTell(
  job: Job,
  token: string | undefined,
  deferral: Deferral,
  options: DeferOptions,
  settled: (o: Pick<JobOutcome, "status" | "reason">) => Promise<void>,
): Promise<never> {
  try {
    return await defer(job, token, deferral, options);
  } catch (err) {
    if (err instanceof UnrecoverableError) await settled({ status: "failed", reason: err.message });
    throw err;
  }
}

export async function startTaskWorkers(options: TaskWorkerOptions): Promise<WorkerHandle[]> {
  const exclude = new Set(options.exclude ?? []);
  const names = (options.names ?? options.queues.names()).filter((n) => !exclude.has(n));
  const logger = options.logger.child({ component: "task-worker" });
  const deferred = deferredCounter(options.metrics);
  const processorOptions = { gate: options.gate, maxWaitMs: options.maxWaitMs, deferred, onSettled: options.onSettled };
  return Promise.all(
    names.map((name) => {
      const concurrency = options.concurrency ?? options.concurrencyOf?.(name);
      const onSettled = options.onSettled;
      return options.queues.startWorker(name, taskProcessor(options.tasks, logger, name, processorOptions), {
        ...(concurrency ? { concurrency } : {}),
        ...(onSettled ? { onStalledOut: (job: Job) => settleStalledOut(job, name, onSettled) } : {}),
      });
    }),
  );
}

/**
 * A job the stalled check failed (its worker died or blocked past the lock, more than
 * maxStalledCount times): its failure is settled like any other, so the job index and the
 * completion webhook learn of it.
 */
async function settleStalledOut(job: Job, queue: string, onSettled: JobSettledHook): Promise<void> {
  if (!isEnvelope(job.data)) return;
  await onSettled({
    queue,
    id: String(job.id),
    envelope: job.data,
    attempts: job.attemptsMade,
    createdMs: job.timestamp,
    status: "failed",
    reason: `JOB_STALLED: ${job.failedReason || "job stalled more than allowable limit"}`,
  });
}
