import { randomUUID } from "node:crypto";
import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { validateWorkspaceId } from "../../core/workspace-id.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { Store } from "../../ports/store.ts";
import { deferredCounter } from "../jobs/deferral.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { TaskRegistry } from "../tasks/registry.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { StartWorkerOptions, WorkerHandle } from "../queues/types.ts";
import type { ActionExecutor, ApprovalRequester, WaitingStepResumer } from "./contracts.ts";
import { enqueueRun, runProcessor } from "./executor.ts";
import { createRunOperations } from "./operations.ts";
import { runStalledOutHandler } from "./stalled-out.ts";
import { findRun, findRunByRequest, insertRun, listRuns, type RunFilter } from "./sql/runs.ts";
import { isWaitingAction, listSteps, settleWaiting } from "./sql/steps.ts";
import { DEFAULT_EVENT_RETENTION_MS, type RunSeams, type StepApiDeps } from "./step-api.ts";
import { SETTLED_STATUSES, type PipelineDefinition, type RunRow, type RunView, type StartedRun, type StartRunRequest } from "./types.ts";
import { toRunView } from "./views.ts";

/** A seam given directly, or as a function read at each step (wired after the runs are built). */
type Lazy<T> = T | (() => T | undefined);

/** Sluice's own queue for run invocations; the jobs API refuses it like `ai-batch-queue`. */
export const RUNS_QUEUE = "sluice-runs";

export interface RunsOptions {
  store: Store;
  queues: QueueManager;
  tasks: TaskRegistry;
  audit: AuditLog;
  logger: Logger;
  /** @default RUNS_QUEUE */
  queue?: string;
  /** Kill switches and budgets, checked before each task step as before a job. */
  gate?: StepApiDeps["gate"];
  /** Called once per run when it completes, fails or is cancelled (completion webhooks). */
  onRunSettled?: (run: RunView) => Promise<void>;
  /** Refuses a `callback_url` Sluice will not call (WEBHOOK_URL_REFUSED, WEBHOOK_SECRET_MISSING); the jobs API's check. */
  checkCallback?: (workspace: string, url: string) => Promise<void>;
  actions?: Lazy<ActionExecutor>;
  approvals?: Lazy<ApprovalRequester>;
  /** How long one invocation holds a run before another job may take it over. @default 600000 */
  leaseMs?: number;
  /** RUN_EVENT_RETENTION_MS: how long sent events stay for waits that start later. @default 86400000 */
  eventRetentionMs?: number | undefined;
  /** AI_MAX_WAIT_FOR_PROVIDER_MS: the longest an invocation waits out an unavailable store or queue. */
  maxWaitMs?: number | undefined;
  /** Counts invocations deferred for an outage (`ai_jobs_deferred_total{queue="sluice-runs"}`). */
  metrics?: Metrics | undefined;
}

// \p{Cc}: control characters. Keys and tags appear in URLs, logs and the CLI's tables.
const ENTITY_KEY = /^[^\s\p{Cc}]{1,200}$/u;
const TAG = /^[^\s\p{Cc}]{1,100}$/u;

function checkStart(request: StartRunRequest): void {
  validateWorkspaceId(request.workspace);
  if (request.entityKey !== undefined && !ENTITY_KEY.test(request.entityKey))
    throw new SluiceError("VALIDATION_FAILED", "entity_key is 1-200 characters without spaces or control characters");
  const tags = request.tags ?? [];
  if (tags.length > 20 || tags.some((t) => !TAG.test(t)))
    throw new SluiceError("VALIDATION_FAILED", "tags: up to 20, each 1-100 characters without spaces or control characters");
  if (request.clientRequestId !== undefined && (request.clientRequestId.length < 1 || request.clientRequestId.length > 255))
    throw new SluiceError("VALIDATION_FAILED", "client_request_id is 1-255 characters");
}

/** Pipelines and their runs: registration, start, reads, the worker, and the operator's operations. */
export function createRuns(options: RunsOptions) {
  const { store, queues } = options;
  const queue = options.queue ?? RUNS_QUEUE;
  const logger = options.logger.child({ component: "runs" });
  const pipelines = new Map<string, PipelineDefinition>();
  const lazy: { actions?: Lazy<ActionExecutor> | undefined; approvals?: Lazy<ApprovalRequester> | undefined } = {
    actions: options.actions,
    approvals: options.approvals,
  };
  const seams: RunSeams = {
    get actions() {
      return typeof lazy.actions === "function" ? lazy.actions() : lazy.actions;
    },
    get approvals() {
      return typeof lazy.approvals === "function" ? lazy.approvals() : lazy.approvals;
    },
  };
  if (!queues.has(queue)) queues.declare(queue);

  const onSettled = async (run: RunRow): Promise<void> => {
    await options.onRunSettled?.(toRunView(run));
  };

  function pipelineOf(name: string): PipelineDefinition {
    const definition = pipelines.get(name);
    if (!definition)
      throw new SluiceError("PIPELINE_NOT_FOUND", `No pipeline named "${name}"`, { details: { known: [...pipelines.keys()].sort() } });
    return definition;
  }

  function parseInput(definition: PipelineDefinition, input: unknown): unknown {
    const parsed = definition.input.safeParse(input);
    if (parsed.success) return parsed.data;
    const details = parsed.error.issues.map((i) => ({ path: `/input${i.path.length ? `/${i.path.join("/")}` : ""}`, message: i.message }));
    throw new SluiceError("VALIDATION_FAILED", `Input for pipeline "${definition.name}" failed validation`, { details });
  }

  async function start(request: StartRunRequest): Promise<StartedRun> {
    checkStart(request);
    const definition = pipelineOf(request.pipeline);
    const input = parseInput(definition, request.input);
    if (request.callbackUrl !== undefined) {
      if (!options.checkCallback) throw new SluiceError("VALIDATION_FAILED", "callback_url is not supported by this server");
      await options.checkCallback(request.workspace, request.callbackUrl);
    }
    const row = {
      id: randomUUID(),
      pipeline: definition.name,
      workspace: request.workspace,
      entityKey: request.entityKey ?? null,
      tags: request.tags ?? [],
      input,
      clientRequestId: request.clientRequestId ?? null,
      callbackUrl: request.callbackUrl ?? null,
    };
    const inserted = await insertRun(store, row);
    const run =
      inserted ??
      (request.clientRequestId ? await findRunByRequest(store, request.workspace, definition.name, request.clientRequestId) : undefined);
    if (!run) throw new SluiceError("CONFLICT", "The run could not be recorded; try again");
    // Also for a repeat: the first request may have died between its row and its job (a second job is harmless).
    if (!SETTLED_STATUSES.includes(run.status)) await queues.add(queue, "run", { runId: run.id }, { jobId: `start-${run.id}` });
    return { id: run.id, status: run.status, created: inserted !== undefined };
  }

  /** The run with its steps; another workspace's run is RUN_NOT_FOUND like a missing one. */
  async function get(id: string, workspace?: string): Promise<RunView> {
    const run = await findRun(store, id, workspace);
    if (!run) throw new SluiceError("RUN_NOT_FOUND", `No run ${id}`);
    return toRunView(run, await listSteps(store, id));
  }

  /** `get`, after waiting up to `waitMs` for the run to settle (a long-poll). */
  async function waitFor(id: string, workspace: string | undefined, waitMs: number, signal?: AbortSignal): Promise<RunView> {
    const deadline = Date.now() + waitMs;
    let view = await get(id, workspace);
    let pause = 50;
    while (!SETTLED_STATUSES.includes(view.status) && Date.now() < deadline && !signal?.aborted) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(0, deadline - Date.now()))));
      pause = Math.min(pause * 2, 500);
      view = await get(id, workspace);
    }
    return view;
  }

  async function list(filter: RunFilter): Promise<{ runs: RunView[]; next_cursor: string | null }> {
    const rows = await listRuns(store, { ...filter, limit: filter.limit + 1 });
    const page = rows.slice(0, filter.limit);
    return { runs: page.map((r) => toRunView(r)), next_cursor: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null };
  }

  const resumer: WaitingStepResumer = {
    async settleWaitingStep(ref, outcome) {
      if (await settleWaiting(store, ref.runId, ref.stepName, outcome)) await enqueueRun(queues, queue, ref.runId);
      else if (await isWaitingAction(store, ref.runId, ref.stepName)) await enqueueRun(queues, queue, ref.runId);
    },
    async wakeWaitingStep(ref) {
      if (await isWaitingAction(store, ref.runId, ref.stepName)) await enqueueRun(queues, queue, ref.runId);
    },
  };

  const operations = createRunOperations({
    store,
    queues,
    queue,
    audit: options.audit,
    logger,
    pipelineOf,
    start,
    get,
    resumer,
    approvals: () => seams.approvals,
    onSettled,
    eventRetentionMs: options.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS,
  });

  return {
    queue,
    /** Registers a pipeline so runs can start and workers can execute it. */
    register(definition: PipelineDefinition): void {
      pipelines.set(definition.name, definition);
    },
    pipelines(): Array<{
      name: string;
      description: string | null;
      transitions: Record<string, readonly string[]> | null;
      input_schema: unknown;
    }> {
      return [...pipelines.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((p) => ({
          name: p.name,
          description: p.description ?? null,
          transitions: p.transitions ?? null,
          input_schema: inputSchema(p),
        }));
    },
    start,
    get,
    waitFor,
    list,
    ...operations,
    resumer,
    /** Wires the actions and approvals modules (the root does); a function is read at each step, so it may be wired later. */
    attach(wiring: { actions?: Lazy<ActionExecutor>; approvals?: Lazy<ApprovalRequester> }): void {
      if (wiring.actions) lazy.actions = wiring.actions;
      if (wiring.approvals) lazy.approvals = wiring.approvals;
    },
    startWorker(workerOptions: StartWorkerOptions = {}): Promise<WorkerHandle> {
      const processor = runProcessor({
        store,
        queues,
        queue,
        tasks: options.tasks,
        logger,
        seams,
        pipelines,
        gate: options.gate,
        eventRetentionMs: options.eventRetentionMs,
        onSettled,
        maxWaitMs: options.maxWaitMs,
        deferred: deferredCounter(options.metrics),
        ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
      });
      // A job failed for stalling runs no processor: without this its run would stay `running` for ever.
      const onStalledOut = workerOptions.onStalledOut ?? runStalledOutHandler({ store, queues, queue, logger, onSettled });
      return queues.startWorker(queue, processor, { ...workerOptions, onStalledOut });
    },
  };
}

function inputSchema(definition: PipelineDefinition): unknown {
  try {
    return z.toJSONSchema(definition.input, { unrepresentable: "any" });
  } catch {
    return null;
  }
}

export type Runs = ReturnType<typeof createRuns>;
