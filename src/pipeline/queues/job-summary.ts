import type { Job } from "bullmq";
import type { JobState, JobSummary } from "./types.ts";

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
export function toJobSummary(job: Job, queue: string, state: JobState): JobSummary {
  const delay = job.delay ?? 0;
  return {
    id: String(job.id),
    queue,
    name: job.name,
    data: job.data,
    state,
    attemptsMade: job.attemptsMade ?? 0,
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
