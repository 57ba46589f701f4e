import type { Job } from "bullmq";
import type { AnyQueue } from "../../ports/queue.ts";
import type { JobState, JobSummary } from "./types.ts";

/** Starts the line a worker logs on a job it hands back at shutdown (counted as an interrupted run). */
export const ABANDONED_RUN_LOG = "sluice: run abandoned";

/**
 * Stalls plus abandoned runs. Every run adds to `attemptsStarted`; a run that finished (completed or
 * failed) adds to `attemptsMade`, a stall to `stalledCounter`. Only when starts are left over
 * (deferred runs, abandoned runs) are the job's log lines read to tell them apart.
 */
export async function countInterruptedRuns(queue: AnyQueue, job: Job, state: JobState): Promise<number> {
  const stalled = job.stalledCounter ?? 0;
  const unexplained = (job.attemptsStarted ?? 0) - (job.attemptsMade ?? 0) - stalled - (state === "active" ? 1 : 0);
  if (unexplained <= 0) return stalled;
  const { logs } = await queue.getJobLogs(String(job.id));
  return stalled + logs.filter((line) => line.startsWith(ABANDONED_RUN_LOG)).length;
}

/** BullMQ's state names folded into the operator's: waiting covers wait, prioritized and paused. */
export function normalizeState(state: string): JobState {
  switch (state) {
    case "wait":
    case "waiting":
    case "paused":
    case "prioritized":
      return "waiting";
    case "active":
    case "delayed":
    case "completed":
    case "failed":
    case "waiting-children":
      return state;
    default:
      return "unknown";
  }
}

/** A plain, JSON-ready view of a BullMQ job. */
export function toJobSummary(job: Job, queue: string, state: JobState, interruptedRuns: number): JobSummary {
  const delay = job.delay ?? 0;
  return {
    id: String(job.id),
    queue,
    name: job.name,
    data: job.data,
    state,
    attemptsMade: job.attemptsMade ?? 0,
    interruptedRuns,
    maxAttempts: job.opts.attempts ?? 1,
    priority: job.priority ?? job.opts.priority ?? 0,
    progress: job.progress ?? 0,
    returnvalue: job.returnvalue ?? null,
    failedReason: job.failedReason ? job.failedReason : null,
    stacktrace: job.stacktrace ?? [],
    timestamps: {
      created: job.timestamp,
      processed: job.processedOn ?? null,
      finished: job.finishedOn ?? null,
      due: state === "delayed" && delay > 0 ? job.timestamp + delay : null,
    },
  };
}
