import { randomUUID } from "node:crypto";
import { isSluiceError, SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Intake } from "../intake/index.ts";
import type { Principal } from "../intake/scopes.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { JobSummary } from "../queues/types.ts";
import type { JobIndex } from "./job-index.ts";
import { intakeRow, listWorkspaceJobs, type JobList, type ListJobsRequest } from "./job-listing.ts";
import { isEnvelope, toJobView, type JobEnvelope, type JobView } from "./job-view.ts";
import { waitForJob, type WaitForJobOptions } from "./job-wait.ts";
import type { TaskRegistry } from "../tasks/registry.ts";

interface SubmitJobRequest {
  type: string;
  input: unknown;
  client_request_id: string;
  queue?: string | undefined;
  priority?: number | undefined;
  /** POSTed a signed completion webhook when the job completes or fails. */
  callback_url?: string | undefined;
}

interface SubmittedJob {
  id: string;
  queue: string;
  /** False when this `client_request_id` was seen in the workspace within the TTL: the job is the earlier one. */
  created: boolean;
}

/** The jobs API's behaviour: idempotent intake, and reads confined to the caller's workspace. */
export interface JobsService {
  /** Validates, admits and queues a job; a repeat of `client_request_id` in the workspace returns the first job (`created: false`). */
  submit(principal: Principal, request: SubmitJobRequest): Promise<SubmittedJob>;
  /** Another workspace's job is JOB_NOT_FOUND exactly like a missing one: ids never leak across workspaces. */
  get(principal: Principal, id: string): Promise<JobView>;
  /** `get`, held until the job completes or fails or `waitMs` passes (long-poll). */
  wait(principal: Principal, id: string, options: WaitForJobOptions): Promise<JobView>;
  /** The caller's jobs from the workspace's index, newest first (keyset pages). */
  list(principal: Principal, request: ListJobsRequest): Promise<JobList>;
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
  /** The per-workspace job index: written at intake, read by `list`. */
  index: JobIndex;
  logger?: Logger;
}

function ownJob(job: JobSummary | undefined, workspace: string): (JobSummary & { data: JobEnvelope }) | undefined {
  if (!job || !isEnvelope(job.data) || job.data.workspace !== workspace) return undefined;
  return job as JobSummary & { data: JobEnvelope };
}

/** The jobs API's behaviour: idempotent intake into queues and workspace-scoped reads. */
export function createJobsService(deps: JobsServiceDeps): JobsService {
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
    if (internal.has(queue))
      throw new SluiceError("VALIDATION_FAILED", `Queue "${queue}" is Sluice's own and takes no jobs from the API`, { details: { queue } });
    if (!queues.has(queue))
      throw new SluiceError("QUEUE_NOT_FOUND", `No queue named "${queue}"`, {
        details: { queue, known: queues.names().filter((q) => !internal.has(q)) },
      });

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
      // Indexed before it is queued: a listed job may be missing (the add failed), never unlisted.
      // While the store is down and the queues are not (Redis), intake goes on and the row is
      // written when the store answers again.
      const row = intakeRow(workspace, claim.jobId, queue, task.name);
      await deps.index.record(row).catch((err: unknown) => {
        if (!(isSluiceError(err) && err.code === "DEPENDENCY_UNAVAILABLE")) throw err;
        deps.index.recordLater(row);
      });
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

  /** The caller's jobs from the workspace's index, newest first (keyset pages): never a scan of other tenants' jobs. */
  function list(principal: Principal, request: ListJobsRequest): Promise<JobList> {
    return listWorkspaceJobs({ index: deps.index, queues }, principal.workspaceId, request);
  }

  return { submit, get, wait, list };
}
