import { SluiceError } from "../../core/errors.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { JobState, JobSummary } from "../queues/types.ts";
import type { IndexedState, JobIndex, JobIndexRow } from "./job-index.ts";
import { isEnvelope, toJobView, type JobEnvelope, type JobView } from "./job-view.ts";

/**
 * The status words `GET /ai/jobs` takes: every state a job view shows, and `queued` (what
 * `POST /ai/jobs` answers) for waiting + delayed (BullMQ's wait, prioritized, paused and delayed lists).
 */
export const JOB_LIST_STATUSES = ["queued", "waiting", "delayed", "active", "completed", "failed"] as const;
type JobListStatus = (typeof JOB_LIST_STATUSES)[number];

export interface ListJobsRequest {
  /** Absent: every state. */
  status?: JobListStatus | undefined;
  type?: string | undefined;
  queue?: string | undefined;
  /** ISO 8601: only jobs submitted at or after it. */
  since?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface JobList {
  /** Newest first. A page can hold fewer than `limit` jobs (jobs that changed state or left the queue since they were indexed); follow `next_cursor`. */
  jobs: JobView[];
  /** Pass back as `cursor` for the next page; null at the end. */
  next_cursor: string | null;
}

// Which index rows may hold jobs in a status, and which live states that status shows.
const FILTERS: Record<JobListStatus, { indexed: IndexedState[]; live: readonly JobState[] }> = {
  queued: { indexed: ["queued"], live: ["waiting", "delayed"] },
  waiting: { indexed: ["queued"], live: ["waiting"] },
  delayed: { indexed: ["queued"], live: ["delayed"] },
  active: { indexed: ["queued"], live: ["active"] },
  completed: { indexed: ["completed"], live: ["completed"] },
  failed: { indexed: ["failed"], live: ["failed"] },
};

const indexedStateOf = (state: JobState): IndexedState => (state === "completed" || state === "failed" ? state : "queued");

function sinceMs(since: string | undefined): number | undefined {
  if (since === undefined) return undefined;
  const ms = Date.parse(since);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(since))
    throw new SluiceError("VALIDATION_FAILED", "since must be an ISO 8601 time, e.g. 2026-12-01T10:00:00Z", {
      details: { field: "since" },
    });
  return ms;
}

/**
 * One page of a workspace's jobs: keyset over the workspace's index rows, then each row's job
 * read live from its queue (the same number of reads as jobs on the page). Rows the live read
 * contradicts are corrected, and rows of jobs that left the queue are dropped, as a side effect.
 */
export async function listWorkspaceJobs(
  deps: { index: JobIndex; queues: QueueManager },
  workspaceId: string,
  request: ListJobsRequest,
): Promise<JobList> {
  if (request.queue !== undefined && !deps.queues.has(request.queue))
    throw new SluiceError("QUEUE_NOT_FOUND", `No queue named "${request.queue}"`, { details: { queue: request.queue } });
  const filter = request.status ? FILTERS[request.status] : undefined;
  const page = await deps.index.page({
    workspaceId,
    states: filter?.indexed,
    type: request.type,
    queue: request.queue,
    sinceMs: sinceMs(request.since),
    limit: request.limit,
    cursor: request.cursor,
  });
  const live = await Promise.all(
    page.rows.map((row) => (deps.queues.has(row.queue) ? deps.queues.findJob(row.queue, row.jobId) : Promise.resolve(undefined))),
  );
  const jobs: JobView[] = [];
  const changed: Array<{ jobId: string; state: IndexedState }> = [];
  const gone: string[] = [];
  page.rows.forEach((row, i) => {
    const job = ownJob(live[i], workspaceId);
    if (!job) {
      if (deps.queues.has(row.queue)) gone.push(row.jobId);
      return;
    }
    if (indexedStateOf(job.state) !== row.state) changed.push({ jobId: row.jobId, state: indexedStateOf(job.state) });
    if (!filter || filter.live.includes(job.state)) jobs.push(toJobView(job));
  });
  if (changed.length > 0 || gone.length > 0) await deps.index.reconcile(workspaceId, changed, gone);
  return { jobs, next_cursor: page.next };
}

function ownJob(job: JobSummary | undefined, workspace: string): (JobSummary & { data: JobEnvelope }) | undefined {
  if (!job || !isEnvelope(job.data) || job.data.workspace !== workspace) return undefined;
  return job as JobSummary & { data: JobEnvelope };
}

/** The row `POST /ai/jobs` writes before it queues a job. */
export function intakeRow(workspaceId: string, jobId: string, queue: string, type: string): JobIndexRow {
  return { workspaceId, jobId, queue, type, state: "queued", createdMs: Date.now() };
}
