import { randomUUID } from "node:crypto";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Intake } from "../intake/index.ts";
import type { Principal } from "../intake/scopes.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import { LISTABLE_STATES, type JobSummary, type ListableState } from "../queues/types.ts";
import { isEnvelope, toJobView, type JobEnvelope, type JobView } from "./job-view.ts";
import { waitForJob, type WaitForJobOptions } from "./job-wait.ts";
import type { TaskRegistry } from "./tasks.ts";

export interface SubmitJobRequest {
  type: string;
  input: unknown;
  client_request_id: string;
  queue?: string | undefined;
  priority?: number | undefined;
  /** POSTed a signed completion webhook when the job completes or fails. */
  callback_url?: string | undefined;
}

export interface SubmittedJob {
  id: string;
  queue: string;
  /** False when this `client_request_id` was seen in the workspace within the TTL: the job is the earlier one. */
  created: boolean;
}

export interface ListJobsRequest {
  status: ListableState;
  queue?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface JobList {
  jobs: JobView[];
  /** Pass back as `cursor` for the next page; null at the end. */
  next_cursor: string | null;
}

export interface JobsServiceDeps {
  queues: QueueManager;
  intake: Intake;
  tasks: TaskRegistry;
  defaultQueue: string;
  /** Queues Sluice runs its own work on (the backfill's): a tenant's job there is refused at intake. */
  internalQueues?: readonly string[];
  /**
   * Refuses a new job for now (kill switch `TASK_DISABLED`, budget `BUDGET_EXHAUSTED`). Runs after
   * the idempotency claim, so a repeat of a queued request still gets its earlier job; a refused
   * request leaves its claim pending, and a repeat queues the job once it is admitted.
   */
  admit?: (workspace: string, type: string) => Promise<void>;
  /** Refuses a `callback_url` Sluice will not call (WEBHOOK_URL_REFUSED, WEBHOOK_SECRET_MISSING). */
  checkCallback?: (workspace: string, url: string) => Promise<void>;
  logger?: Logger;
}

// Listing filters BullMQ's per-state lists by workspace; this bounds the work one request may do.
const SCAN_PAGE = 200;
const SCAN_BUDGET = 5_000;

function ownJob(job: JobSummary | undefined, workspace: string): (JobSummary & { data: JobEnvelope }) | undefined {
  if (!job || !isEnvelope(job.data) || job.data.workspace !== workspace) return undefined;
  return job as JobSummary & { data: JobEnvelope };
}

function decodeCursor(cursor: string | undefined): { queueIndex: number; offset: number } {
  if (!cursor) return { queueIndex: 0, offset: 0 };
  const match = /^(\d+)\.(\d+)$/.exec(Buffer.from(cursor, "base64url").toString());
  if (!match) throw new SluiceError("VALIDATION_FAILED", "cursor is not one this server returned");
  return { queueIndex: Number(match[1]), offset: Number(match[2]) };
}

const encodeCursor = (queueIndex: number, offset: number) => Buffer.from(`${queueIndex}.${offset}`).toString("base64url");

/** The jobs API's behaviour: idempotent intake into queues and workspace-scoped reads. */
export function createJobsService(deps: JobsServiceDeps) {
  const { queues, intake, tasks } = deps;

  async function submit(principal: Principal, request: SubmitJobRequest): Promise<SubmittedJob> {
    const workspace = principal.workspaceId;
    await intake.consume(workspace);
    const task = tasks.require(request.type);
    const input = tasks.parseInput(task, request.input);
    if (request.callback_url !== undefined) {
      if (!deps.checkCallback) throw new SluiceError("VALIDATION_FAILED", "callback_url is not supported by this server");
      await deps.checkCallback(workspace, request.callback_url);
    }
    const queue = request.queue ?? task.queue ?? deps.defaultQueue;
    const internal = new Set(deps.internalQueues ?? []);
    if (internal.has(queue)) throw new SluiceError("VALIDATION_FAILED", `Queue "${queue}" is Sluice's own and takes no jobs from the API`, { details: { queue } });
    if (!queues.has(queue)) throw new SluiceError("QUEUE_NOT_FOUND", `No queue named "${queue}"`, { details: { queue, known: queues.names().filter((q) => !internal.has(q)) } });

    const claim = await intake.claim(workspace, request.client_request_id, randomUUID());
    const existing = claim.created ? undefined : await findOwn(workspace, claim.jobId);
    // Confirmed: its job was queued (if it is gone, it finished and retention removed it, or an operator did).
    if (!claim.created && claim.confirmed) return { id: claim.jobId, queue: existing?.queue ?? queue, created: false };
    // Pending: this request's claim, or one whose request is still queueing its job or failed or died
    // before it did. Queue it under the claimed id (a failure leaves the claim pending for a retry);
    // when several requests race here, BullMQ's add of an existing job id is a no-op: one job.
    if (!existing) {
      const envelope: JobEnvelope = {
        workspace,
        type: task.name,
        input,
        client_request_id: request.client_request_id,
        submitted_by: principal.keyId,
        ...(request.callback_url !== undefined ? { callback_url: request.callback_url } : {}),
      };
      await deps.admit?.(workspace, task.name);
      await queues.add(queue, task.name, envelope, { jobId: claim.jobId, ...(request.priority ? { priority: request.priority } : {}) });
    }
    // Exactly one request moves the claim from pending to confirmed, and only it answers "created".
    const created = await confirm(workspace, request.client_request_id, claim.jobId, claim.created);
    return { id: claim.jobId, queue: existing?.queue ?? queue, created };
  }

  async function confirm(workspace: string, clientRequestId: string, jobId: string, ifUnknown: boolean): Promise<boolean> {
    try {
      return await intake.confirmClaim(workspace, clientRequestId, jobId);
    } catch (err) {
      // The job is queued; the claim stays pending and the next repeat confirms it.
      deps.logger?.warn({ err, workspace, jobId }, "could not confirm the idempotency claim of a queued job");
      return ifUnknown;
    }
  }

  async function findOwn(workspace: string, id: string): Promise<(JobSummary & { data: JobEnvelope }) | undefined> {
    const found = await Promise.all(queues.names().map((q) => queues.findJob(q, id)));
    return found.map((job) => ownJob(job, workspace)).find((job) => job !== undefined);
  }

  /** Another workspace's job is a 404 exactly like a missing one: ids never leak across workspaces. */
  async function get(principal: Principal, id: string): Promise<JobView> {
    const job = await findOwn(principal.workspaceId, id);
    if (!job) throw new SluiceError("JOB_NOT_FOUND", `No job ${id}`);
    return toJobView(job);
  }

  /** `get`, held until the job completes or fails or `waitMs` passes (long-poll). */
  function wait(principal: Principal, id: string, options: WaitForJobOptions): Promise<JobView> {
    return waitForJob(() => get(principal, id), options);
  }

  async function list(principal: Principal, request: ListJobsRequest): Promise<JobList> {
    if (!LISTABLE_STATES.includes(request.status)) throw new SluiceError("VALIDATION_FAILED", `status must be one of ${LISTABLE_STATES.join(", ")}`);
    const names = request.queue ? [request.queue] : queues.names();
    if (request.queue && !queues.has(request.queue)) throw new SluiceError("QUEUE_NOT_FOUND", `No queue named "${request.queue}"`);
    let { queueIndex, offset } = decodeCursor(request.cursor);
    const jobs: JobView[] = [];
    let scanned = 0;
    while (queueIndex < names.length && jobs.length < request.limit && scanned < SCAN_BUDGET) {
      const page = await queues.jobs(names[queueIndex] ?? "", request.status, { offset, limit: SCAN_PAGE });
      for (const [i, job] of page.jobs.entries()) {
        const own = ownJob(job, principal.workspaceId);
        if (own) jobs.push(toJobView(own));
        if (jobs.length === request.limit) {
          offset += i + 1;
          break;
        }
      }
      scanned += page.jobs.length;
      if (jobs.length === request.limit) break;
      if (page.jobs.length < SCAN_PAGE) {
        queueIndex += 1;
        offset = 0;
      } else {
        offset += page.jobs.length;
      }
    }
    const more = queueIndex < names.length;
    return { jobs, next_cursor: more ? encodeCursor(queueIndex, offset) : null };
  }

  return { submit, get, wait, list };
}

export type JobsService = ReturnType<typeof createJobsService>;
