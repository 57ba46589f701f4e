import type { Job } from "bullmq";

/**
 * The queue manager's public shapes: plain data, so the HTTP admin API and the CLI can return them
 * as JSON unchanged.
 */

/** A job's state as operators see it: `waiting` covers BullMQ's wait, prioritized and paused lists. */
export type JobState = "waiting" | "active" | "delayed" | "completed" | "failed" | "waiting-children" | "unknown";

/** States `jobs()` can list. */
export type ListableState = "waiting" | "active" | "delayed" | "completed" | "failed";
export const LISTABLE_STATES: readonly ListableState[] = ["waiting", "active", "delayed", "completed", "failed"];

/** States `clean()` can remove from (never `active`: those jobs are locked by a running worker). */
export type CleanableState = "waiting" | "delayed" | "completed" | "failed";
export const CLEANABLE_STATES: readonly CleanableState[] = ["waiting", "delayed", "completed", "failed"];

export interface QueueCounts {
  /** Ready to run: BullMQ's waiting + prioritized, plus jobs held by a pause. */
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  total: number;
}

/** One row of `GET /api/queues`. */
export interface QueueListing {
  name: string;
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  delayed: number;
  /** waiting + active + delayed + completed + failed (runbook 004 reads `stats.total`). */
  total: number;
  /** The queue is paused: it accepts jobs and hands none out. */
  paused: boolean;
  /** Workers connected to this queue (fleet-wide on Redis/Postgres, this process on PGlite). */
  workers: number;
}

export interface JobSummary {
  id: string;
  queue: string;
  name: string;
  data: unknown;
  state: JobState;
  attemptsMade: number;
  /**
   * Runs that ended without finishing: stalls (the worker died and the stalled check requeued the
   * job) and runs abandoned by a worker stopping past its shutdown timeout. Not attempts spent
   * (a job's retries count `attemptsMade` only), but its handler ran that many more times.
   */
  interruptedRuns: number;
  maxAttempts: number;
  priority: number;
  /** Progress as the processor last reported it (`job.updateProgress`): a number or an object. */
  progress: unknown;
  returnvalue: unknown;
  failedReason: string | null;
  stacktrace: string[];
  timestamps: {
    /** When the job was added (ms since epoch). */
    created: number;
    /** When a worker last took it. */
    processed: number | null;
    /** When it last completed or failed. */
    finished: number | null;
    /** For a delayed job, when it becomes due. */
    due: number | null;
  };
}

export interface JobPage {
  jobs: JobSummary[];
  /** Jobs in the state right now (for paging). */
  total: number;
  offset: number;
  limit: number;
}

/** Retention: keep the newest `count` finished jobs, and/or those younger than `age` seconds. */
export type KeepJobs = { count: number } | { age: number; count?: number };

export interface BackoffPolicy {
  type: "fixed" | "exponential";
  /** Base delay in ms. */
  delay: number;
  /** 0..1: the share of each delay that is randomised (spreads retries from a burst of failures). */
  jitter?: number;
}

export interface AddJobOptions {
  /** 1 (highest) .. 2,097,152; absent or 0 means no priority (FIFO, ahead of nothing). */
  priority?: number;
  /** Milliseconds before the job becomes due. */
  delay?: number;
  /** Total runs allowed, first included. @default the queue's default (3) */
  attempts?: number;
  /** Wait between attempts; a number is a fixed delay in ms. */
  backoff?: number | BackoffPolicy;
  /** Your id for the job: adding the same id again returns the existing job instead of a second one. Not a plain integer, no ':'. */
  jobId?: string;
  removeOnComplete?: boolean | number | KeepJobs;
  removeOnFail?: boolean | number | KeepJobs;
  /**
   * BullMQ deduplication: while a job with this id is waiting or delayed, adding another is a
   * no-op; with `keepLastIfActive`, an add while it runs makes one follow-up job when it finishes.
   */
  deduplication?: { id: string; keepLastIfActive?: boolean };
}

export interface BulkJob {
  name: string;
  data: unknown;
  opts?: AddJobOptions;
}

export interface AddedJob {
  id: string;
  queue: string;
  name: string;
}

export interface QueueDeclaration {
  /** Overrides the manager's job defaults for this queue. */
  defaultJobOptions?: Pick<AddJobOptions, "attempts" | "backoff" | "removeOnComplete" | "removeOnFail">;
}

export interface CleanOptions {
  /** Only jobs older than this (finished for completed/failed, created otherwise). @default 0 */
  graceMs?: number;
  /** @default "failed" */
  state?: CleanableState;
  /** At most this many jobs; absent removes every match (in batches of 1,000). */
  limit?: number;
}

export interface StartWorkerOptions {
  /** Jobs this worker runs at once. @default the manager's default (QUEUE_CONCURRENCY) */
  concurrency?: number;
  /** A job's lock lasts this long and is renewed at half of it while the processor runs. @default 30000 */
  lockDuration?: number;
  /** How often workers look for jobs whose lock expired (a crashed worker's) and requeue them. @default 30000 */
  stalledInterval?: number;
  /** How many times a job may be requeued after stalling before it is failed. @default 1 */
  maxStalledCount?: number;
  /**
   * A job failed for stalling more than `maxStalledCount` times: no processor runs to see that
   * outcome, so this is where it is told. Called once, by the worker that failed it.
   */
  onStalledOut?: (job: Job) => Promise<void>;
}

/** The processor: BullMQ's own Job, so `job.updateProgress`, `job.log` and friends are at hand. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- payloads are the caller's to type
export type JobProcessor<D = any, R = unknown> = (job: Job<D, R>, token?: string, signal?: AbortSignal) => Promise<R>;

export interface WorkerHandle {
  readonly queue: string;
  readonly id: string;
  /** Whether it is taking jobs (false once closed). */
  readonly running: boolean;
  /** Jobs it runs at once now (BullMQ's `worker.concurrency`). */
  readonly concurrency: number;
  /** What it was started with, before any runtime override. */
  readonly configuredConcurrency: number;
  /** Jobs it is running right now. */
  readonly active: number;
  /** Changes how many jobs it runs at once, without a restart (running jobs are not interrupted). */
  setConcurrency(concurrency: number): void;
  /** Stops taking jobs and waits for the running ones to finish (force: don't wait). */
  close(force?: boolean): Promise<void>;
  /**
   * Returns the jobs it is running to `waiting` at once (lock released, no attempt spent, the run
   * counted in `interruptedRuns`) and aborts their handlers; for a shutdown that cannot wait for
   * them. Returns how many went back.
   */
  abandon(reason: string): Promise<number>;
}
