import type { QueueManager } from "../queues/queue-manager.ts";
import type { JobSummary, ListableState } from "../queues/types.ts";

/**
 * Seed 003 §3.1 "Check recent errors" (`SELECT * FROM worker_errors WHERE queue = 'churn' ORDER BY
 * created_at DESC LIMIT 10`) without a table of its own: BullMQ keeps each failed attempt's error on
 * the job (`failedReason` for the last, `stacktrace` for every one), so the jobs that failed at least
 * once — failed for good, or waiting, delayed or running again for a retry — carry the queue's recent
 * attempt errors, as long as the job is kept (failed jobs: 7 days; completed: 24 h, at most 1,000).
 */
export interface AttemptErrorRow {
  job_id: string;
  job_name: string;
  state: string;
  attempts_made: number;
  max_attempts: number;
  /** The last attempt's error (`CODE: message` for Sluice's own errors). */
  last_error: string;
  /** When that attempt ended (or the job was last taken), ISO 8601. */
  at: string | null;
  /** The earlier attempts' errors, oldest first (first line of each). */
  earlier_errors: string[];
}

const STATES: readonly ListableState[] = ["failed", "active", "delayed", "waiting", "completed"];
const SCAN_PER_STATE = 200;

const firstLine = (text: string) => text.split("\n", 1)[0] ?? "";

function toRow(job: JobSummary): AttemptErrorRow | undefined {
  const errors = job.stacktrace.map(firstLine).filter(Boolean);
  const last = job.failedReason ?? errors[errors.length - 1];
  if (!last) return undefined;
  const when = job.timestamps.finished ?? job.timestamps.processed;
  return {
    job_id: job.id,
    job_name: job.name,
    state: job.state,
    attempts_made: job.attemptsMade,
    max_attempts: job.maxAttempts,
    last_error: last,
    at: when ? new Date(when).toISOString() : null,
    earlier_errors: errors.slice(0, -1),
  };
}

/** The newest attempt errors of one queue (QUEUE_NOT_FOUND for a queue not declared). */
export async function recentAttemptErrors(queues: QueueManager, queue: string, limit: number): Promise<AttemptErrorRow[]> {
  const rows: AttemptErrorRow[] = [];
  for (const state of STATES) {
    const page = await queues.jobs(queue, state, { limit: SCAN_PER_STATE });
    for (const job of page.jobs) {
      const row = toRow(job);
      if (row) rows.push(row);
    }
  }
  return rows.sort((a, b) => (b.at ?? "").localeCompare(a.at ?? "")).slice(0, limit);
}
