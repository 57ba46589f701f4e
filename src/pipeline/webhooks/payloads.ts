import { randomUUID } from "node:crypto";
import { tenantError, type JobEnvelope } from "../jobs/job-view.ts";

/**
 * The JSON bodies Sluice POSTs. Every body has the same envelope: `id` (the event's id: the same
 * across retries and redeliveries, so a receiver can drop duplicates by it), `type`, `created_at`,
 * `workspace`, and `data` with the job or run as the API shows it.
 */

export type WebhookEvent = "job.completed" | "job.failed" | "run.completed" | "run.failed" | "run.cancelled";

export interface WebhookBody {
  id: string;
  type: WebhookEvent;
  created_at: string;
  workspace: string;
  data: Record<string, unknown>;
}

/** What the worker knows about a job the moment its outcome is decided. */
export interface SettledJob {
  queue: string;
  id: string;
  envelope: JobEnvelope & { callback_url?: string };
  status: "completed" | "failed";
  result?: unknown;
  /** The failure reason in `CODE: message` form; shown to the tenant the way GET /ai/jobs/{id} shows it. */
  reason?: string;
  /** Runs so far, this one included. */
  attempts: number;
  /** When the job was taken (the queue's timestamp, ms since epoch). */
  createdMs: number;
}

export interface SettledEvent {
  workspace: string;
  event: WebhookEvent;
  /** `job:<id>` or `run:<id>`. */
  subject: string;
  body: string;
}

function envelope(type: WebhookEvent, workspace: string, data: Record<string, unknown>): string {
  const body: WebhookBody = { id: randomUUID(), type, created_at: new Date().toISOString(), workspace, data };
  return JSON.stringify(body);
}

export function jobEvent(job: SettledJob): SettledEvent {
  const type: WebhookEvent = job.status === "completed" ? "job.completed" : "job.failed";
  const view = {
    id: job.id,
    queue: job.queue,
    type: job.envelope.type,
    status: job.status,
    client_request_id: job.envelope.client_request_id,
    result: job.status === "completed" ? (job.result ?? null) : null,
    error: job.status === "failed" ? tenantError(job.reason ?? null) : null,
    attempts: job.attempts,
    finished_at: new Date().toISOString(),
  };
  return {
    workspace: job.envelope.workspace,
    event: type,
    subject: `job:${job.id}`,
    body: envelope(type, job.envelope.workspace, { job: view }),
  };
}

/** The fields of a run (the runs' RunView) a run event carries; kept here so webhooks depend on no run internals. */
export interface SettledRun {
  id: string;
  pipeline: string;
  workspace: string;
  status: string;
  entity_key: string | null;
  tags: readonly string[];
  client_request_id: string | null;
  output: unknown;
  error: unknown;
  failed_step: string | null;
  finished_at: Date | string | null;
  /** Set when the runs API lets a run carry its own callback URL. */
  callback_url?: string | null;
}

const RUN_EVENTS: Record<string, WebhookEvent> = { completed: "run.completed", failed: "run.failed", cancelled: "run.cancelled" };

/** The event for a settled run; undefined for a status that is not a settlement. */
export function runEvent(run: SettledRun): SettledEvent | undefined {
  const type = RUN_EVENTS[run.status];
  if (!type) return undefined;
  const view = {
    id: run.id,
    pipeline: run.pipeline,
    status: run.status,
    entity_key: run.entity_key,
    tags: run.tags,
    client_request_id: run.client_request_id,
    output: run.output ?? null,
    error: run.error,
    failed_step: run.failed_step,
    finished_at: run.finished_at ? new Date(run.finished_at).toISOString() : null,
  };
  return { workspace: run.workspace, event: type, subject: `run:${run.id}`, body: envelope(type, run.workspace, { run: view }) };
}
