import type { BaseJobOptions, JobsOptions } from "bullmq";
import { SluiceError } from "../../core/errors.ts";
import type { AddJobOptions, BackoffPolicy, KeepJobs, QueueDeclaration } from "./types.ts";

/** Options for `createQueueManager({ defaults })`; every field optional. */
export interface QueueDefaults {
  /** Runs per job, the first included. @default 3 */
  attempts?: number;
  /** @default { type: "exponential", delay: 1000, jitter: 0.5 } (about 0.5-1 s, 1-2 s, 2-4 s ...) */
  backoff?: BackoffPolicy;
  /** Completed jobs kept for Bull Board and `jobs(..., "completed")`. @default { age: 86400, count: 1000 } */
  removeOnComplete?: KeepJobs;
  /** Failed jobs kept for inspection and retry. @default { age: 604800, count: 10000 } */
  removeOnFail?: KeepJobs;
  /** Worker concurrency (QUEUE_CONCURRENCY). @default 10 */
  concurrency?: number;
  /** Job lock duration in ms (QUEUE_LOCK_DURATION_MS). @default 30000 */
  lockDuration?: number;
  /** Stalled-job check interval in ms (QUEUE_STALLED_INTERVAL_MS). @default 30000 */
  stalledInterval?: number;
  /** Requeues after a stall before the job fails. @default 1 */
  maxStalledCount?: number;
}

export type ResolvedQueueDefaults = Required<QueueDefaults>;

export function resolveQueueDefaults(defaults: QueueDefaults = {}): ResolvedQueueDefaults {
  return {
    attempts: defaults.attempts ?? 3,
    backoff: defaults.backoff ?? { type: "exponential", delay: 1000, jitter: 0.5 },
    removeOnComplete: defaults.removeOnComplete ?? { age: 86_400, count: 1_000 },
    removeOnFail: defaults.removeOnFail ?? { age: 604_800, count: 10_000 },
    concurrency: defaults.concurrency ?? 10,
    lockDuration: defaults.lockDuration ?? 30_000,
    stalledInterval: defaults.stalledInterval ?? 30_000,
    maxStalledCount: defaults.maxStalledCount ?? 1,
  };
}

/** The defaults as Sluice's configuration sets them (QUEUE_CONCURRENCY, QUEUE_LOCK_DURATION_MS, QUEUE_STALLED_INTERVAL_MS). */
export function queueDefaultsFromConfig(queue: { concurrency: number; lockDurationMs: number; stalledIntervalMs: number }): QueueDefaults {
  return { concurrency: queue.concurrency, lockDuration: queue.lockDurationMs, stalledInterval: queue.stalledIntervalMs };
}

/** A BullMQ queue's `defaultJobOptions`: the manager's defaults under the queue's own. */
export function queueJobDefaults(defaults: ResolvedQueueDefaults, declaration: QueueDeclaration = {}): BaseJobOptions {
  const own = declaration.defaultJobOptions ?? {};
  return toBullJobOptions({
    attempts: own.attempts ?? defaults.attempts,
    backoff: own.backoff ?? defaults.backoff,
    removeOnComplete: own.removeOnComplete ?? defaults.removeOnComplete,
    removeOnFail: own.removeOnFail ?? defaults.removeOnFail,
  });
}

const MAX_PRIORITY = 2_097_152;

function invalid(message: string): never {
  throw new SluiceError("VALIDATION_FAILED", message);
}

function checkOptions(opts: AddJobOptions): void {
  const { priority, delay, attempts, backoff, jobId } = opts;
  if (priority !== undefined && (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY))
    invalid(`priority must be a whole number from 0 to ${MAX_PRIORITY}`);
  if (delay !== undefined && (!Number.isFinite(delay) || delay < 0)) invalid("delay must be a number of milliseconds, 0 or more");
  if (attempts !== undefined && (!Number.isInteger(attempts) || attempts < 1 || attempts > 1000))
    invalid("attempts must be a whole number from 1 to 1000");
  const backoffDelay = typeof backoff === "number" ? backoff : backoff?.delay;
  if (backoffDelay !== undefined && (!Number.isFinite(backoffDelay) || backoffDelay < 0))
    invalid("backoff delay must be a number of milliseconds, 0 or more");
  if (typeof backoff === "object" && backoff.jitter !== undefined && !(backoff.jitter >= 0 && backoff.jitter <= 1))
    invalid("backoff jitter must be between 0 and 1");
  // BullMQ reserves integer ids for its own counter and ':' for its keys.
  if (jobId !== undefined && (jobId === "" || /^\d+$/.test(jobId) || jobId.includes(":") || jobId.length > 255)) {
    invalid("jobId must be 1-255 characters, not a plain integer, and without ':'");
  }
}

/** Validates Sluice's job options and maps them to BullMQ's (only the fields given). */
export function toBullJobOptions(opts: AddJobOptions = {}): JobsOptions {
  checkOptions(opts);
  const out: JobsOptions = {};
  if (opts.priority) out.priority = opts.priority;
  if (opts.delay) out.delay = Math.round(opts.delay);
  if (opts.attempts !== undefined) out.attempts = opts.attempts;
  if (opts.backoff !== undefined)
    out.backoff = typeof opts.backoff === "number" ? { type: "fixed", delay: opts.backoff } : { ...opts.backoff };
  if (opts.jobId !== undefined) out.jobId = opts.jobId;
  if (opts.removeOnComplete !== undefined) out.removeOnComplete = opts.removeOnComplete;
  if (opts.removeOnFail !== undefined) out.removeOnFail = opts.removeOnFail;
  if (opts.deduplication !== undefined) out.deduplication = { ...opts.deduplication };
  return out;
}
