import { carriesInternals, ERROR_CATALOGUE, isErrorCode } from "../../core/errors.ts";
import type { JobSummary } from "../queues/types.ts";

/** What a job carries in the queue: the workspace travels with it, so every read can check it. */
export interface JobEnvelope {
  workspace: string;
  type: string;
  input: unknown;
  client_request_id: string;
  submitted_by: string;
  /** Where the completion webhook goes (besides the workspace's default URL). */
  callback_url?: string;
}

export function isEnvelope(data: unknown): data is JobEnvelope {
  return (
    typeof data === "object" &&
    data !== null &&
    typeof (data as JobEnvelope).workspace === "string" &&
    typeof (data as JobEnvelope).type === "string"
  );
}

/** The public shape of a job in the jobs API. */
export interface JobView {
  id: string;
  queue: string;
  type: string;
  status: string;
  client_request_id: string;
  input: unknown;
  result: unknown;
  error: string | null;
  /** Runs finished (completed or failed) plus runs interrupted (stalled, or abandoned at shutdown). */
  attempts: number;
  max_attempts: number;
  progress: unknown;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : null);

const STALLED_OUT = /^(JOB_STALLED: )?job stalled more than allowable limit/;

/**
 * A failed job's reason as its tenant reads it: `CODE: message` on one line, with the catalogue's
 * message where the text may carry internals (hosts, driver advice, provider answers), and no
 * stack. The whole reason stays in the operator's queue API (`GET /api/queues/{q}/jobs/{id}`).
 */
export function tenantError(reason: string | null): string | null {
  if (!reason) return reason;
  // BullMQ's own words for a job the stalled check failed: the tenant reads what happened, not TASK_FAILED.
  if (STALLED_OUT.test(reason)) return `JOB_STALLED: ${ERROR_CATALOGUE.JOB_STALLED.message}`;
  const code = /^([A-Z][A-Z0-9_]+): /.exec(reason)?.[1];
  if (!code || !isErrorCode(code)) return `TASK_FAILED: ${ERROR_CATALOGUE.TASK_FAILED.message}`;
  if (carriesInternals(code)) return `${code}: ${ERROR_CATALOGUE[code].message}`;
  return (reason.split("\n")[0] ?? reason).slice(0, 1_000);
}

export function toJobView(job: JobSummary & { data: JobEnvelope }): JobView {
  return {
    id: job.id,
    queue: job.queue,
    type: job.data.type,
    status: job.state,
    client_request_id: job.data.client_request_id,
    input: job.data.input,
    result: job.returnvalue ?? null,
    error: tenantError(job.failedReason),
    // Every run its handler had, not only the finished ones: a run cut short by a dying or
    // stopping worker ran (and may have called a provider) as surely as a failed one.
    attempts: job.attemptsMade + job.interruptedRuns,
    max_attempts: job.maxAttempts,
    progress: job.progress,
    created_at: new Date(job.timestamps.created).toISOString(),
    started_at: iso(job.timestamps.processed),
    finished_at: iso(job.timestamps.finished),
  };
}
