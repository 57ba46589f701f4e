import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Store } from "../../ports/store.ts";
import type { TaskRegistry } from "../tasks/registry.ts";
import type { ActionExecutor, ApprovalRequester, StepError, StepRef } from "./contracts.ts";
import { backoffAfter, durationMs, resolveRetryPolicy } from "./define.ts";
import {
  dependencyOutage,
  EngineFailure,
  engineIo,
  Invocation,
  isRetryable,
  RunCancelled,
  RunSuspended,
  StepFailure,
  toStepError,
  untilStoreAnswers,
  workerStopped,
} from "./invocation.ts";
import { eventsSince } from "./sql/events.ts";
import { findRun } from "./sql/runs.ts";
import { eventMatches } from "./views.ts";
import { listSteps, settleWaiting, startStep, writeStep, type StepWrite } from "./sql/steps.ts";
import { applyTransition } from "./entity-state.ts";
import type { ApprovalDecision, PipelineDefinition, StepApi, StepKind, StepOptions, StepRow } from "./types.ts";

/** The actions and approvals modules, wired at the root once they exist. */
export interface RunSeams {
  actions?: ActionExecutor | undefined;
  approvals?: ApprovalRequester | undefined;
}

export interface StepApiDeps {
  store: Store;
  tasks: TaskRegistry;
  logger: Logger;
  /** The queue runs execute on (a task step's context names it). */
  queue: string;
  /** Kill switches and budgets, as before a job's handler. */
  gate?: ((job: { type: string; workspace: string; queue: string }) => Promise<void>) | undefined;
  seams: RunSeams;
  definition: PipelineDefinition;
  signal?: AbortSignal | undefined;
  /** RUN_EVENT_RETENTION_MS: how far back a new wait looks for events (never before its own start); 0 turns the buffer off. */
  eventRetentionMs?: number | undefined;
  /** How long a step's outcome waits for an unanswering store before the invocation gives up on it. @default 300000 */
  storeWaitMs?: number | undefined;
}

export const DEFAULT_EVENT_RETENTION_MS = 86_400_000;
const DEFAULT_STORE_WAIT_MS = 300_000;
/** A try the store's outage interrupted is tried again this much later, without counting it. */
const OUTAGE_RETRY_MS = 1_000;

type Attempted = { ok: true; result: unknown } | { ok: false; error: unknown };

/** The `step` object a pipeline's function gets for one invocation. */
export function createStepApi(deps: StepApiDeps, inv: Invocation): StepApi {
  const { store, definition } = deps;
  const { run } = inv;
  const ref = (name: string): StepRef => ({ runId: run.id, stepName: name, pipeline: run.pipeline, workspace: run.workspace });
  const write = (step: Omit<StepWrite, "runId">) => engineIo(writeStep(store, { runId: run.id, ...step }));
  /** A write after a body ran: it waits out a store restart rather than lose the outcome. */
  const persist = (step: Omit<StepWrite, "runId">) =>
    engineIo(
      untilStoreAnswers(() => writeStep(store, { runId: run.id, ...step }), {
        waitMs: deps.storeWaitMs ?? DEFAULT_STORE_WAIT_MS,
        signal: deps.signal,
        onFirstWait: (err) =>
          deps.logger.warn(
            { runId: run.id, step: step.name, err },
            "the store does not answer: the step's outcome waits for it (the step does not run again)",
          ),
      }),
    );

  const fail = async (name: string, kind: StepKind, position: number, attempts: number, error: StepError): Promise<never> => {
    await persist({ name, position, kind, status: "failed", attempts, error });
    throw new StepFailure(name, error);
  };
  const memo = (row: StepRow | undefined): { done: true; value: unknown } | { done: false } => {
    if (row?.status === "completed") return { done: true, value: row.result };
    if (row?.status === "failed") throw new StepFailure(row.name, row.error ?? { code: "STEP_FAILED", message: "failed" });
    return { done: false };
  };
  const assertNotCancelled = async (): Promise<void> => {
    const current = await engineIo(findRun(store, run.id));
    if (!current || current.status === "cancelled") throw new RunCancelled();
  };

  /** One try of a retryable step, and what its outcome means: done, retry later (suspend), or failed for good. */
  async function attempt(
    name: string,
    kind: StepKind,
    position: number,
    row: StepRow | undefined,
    options: StepOptions | undefined,
    call: (attempt: number) => Promise<unknown>,
  ): Promise<unknown> {
    const policy = resolveRetryPolicy(definition.retry, options?.retry);
    if (row?.status === "retrying" && row.wake_at && row.wake_at.getTime() > Date.now()) {
      return inv.suspend(new RunSuspended("sleeping", { at: row.wake_at, key: `${name}#${row.attempts}` }));
    }
    // A try found `running` is one whose worker died in it: it counts, so a body that kills its worker
    // every time stops at maxAttempts (1: never run twice). Not an action's: its ledger and a person decide.
    if (row?.status === "running" && kind !== "action" && row.attempts >= policy.maxAttempts) {
      deps.logger.warn(
        { runId: run.id, step: name, attempts: row.attempts },
        "step's worker stopped during its last attempt; not run again",
      );
      return fail(name, kind, position, row.attempts, workerStopped(row.attempts, policy.maxAttempts));
    }
    const attempts = (row?.attempts ?? 0) + 1;
    if (!(await engineIo(startStep(store, { runId: run.id, name, position, kind, attempts })))) throw new RunCancelled();
    const outcome: Attempted = await call(attempts).then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (outcome.ok) {
      await persist({ name, position, kind, status: "completed", attempts, result: outcome.result ?? null });
      return outcome.result ?? null;
    }
    if (outcome.error instanceof RunSuspended) throw outcome.error;
    const error = toStepError(outcome.error);
    if (dependencyOutage(outcome.error)) {
      // The store (or kv, Redis) went away under the step, as under a job: not the step's failure, so the try is not counted.
      const at = new Date(Date.now() + OUTAGE_RETRY_MS);
      await persist({ name, position, kind, status: "retrying", attempts: attempts - 1, error, wakeAt: at });
      deps.logger.info({ runId: run.id, step: name, error }, "step met an unavailable dependency; trying again without counting it");
      return inv.suspend(new RunSuspended("sleeping", { at, key: `${name}#${attempts}-outage` }));
    }
    if (isRetryable(outcome.error) && attempts < policy.maxAttempts) {
      const at = new Date(Date.now() + backoffAfter(policy, attempts));
      await persist({ name, position, kind, status: "retrying", attempts, error, wakeAt: at });
      deps.logger.info({ runId: run.id, step: name, attempts, error }, "step failed; retrying later");
      return inv.suspend(new RunSuspended("sleeping", { at, key: `${name}#${attempts}` }));
    }
    return fail(name, kind, position, attempts, error);
  }

  function durable<T>(
    name: string,
    kind: StepKind,
    body: (row: StepRow | undefined, position: number) => Promise<T>,
    width = 1,
  ): Promise<T> {
    const suspended = inv.suspensions[0];
    if (suspended) return Promise.reject(suspended);
    try {
      const { row, position } = inv.enter(name, kind, width);
      const known = memo(row);
      if (known.done) return Promise.resolve(known.value as T);
      return inv.track(
        body(row, position).catch((err: unknown) => {
          // Remembered even if the function catches it: the invocation is retried, not the run settled.
          if (err instanceof EngineFailure) inv.engineFailure ??= err;
          throw err;
        }),
      );
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  async function waitStep(
    name: string,
    kind: StepKind,
    row: StepRow | undefined,
    position: number,
    setup: () => Promise<void>,
    first: Omit<StepWrite, "runId" | "name" | "kind" | "position" | "status" | "attempts">,
  ): Promise<never> {
    if (!row) {
      await assertNotCancelled();
      await write({ name, position, kind, status: "waiting", attempts: 1, ...first });
    }
    // Again on every wake: a worker that died between the row and the request leaves no task behind.
    await setup();
    const at = row?.wake_at ?? first.wakeAt ?? undefined;
    return inv.suspend(new RunSuspended("waiting", at ? { at, key: `${name}#timeout` } : undefined));
  }

  /** Settles the waiting step with the first buffered event that matches; true when the step is settled now (by this or by a send). */
  async function takeBufferedEvent(name: string, spec: { event: string; match?: Record<string, unknown> }, since: Date): Promise<boolean> {
    const retentionMs = deps.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS;
    if (retentionMs <= 0) return false;
    const event = (await engineIo(eventsSince(store, run.workspace, spec.event, since, retentionMs))).find((e) =>
      eventMatches(spec.match ?? {}, e.payload),
    );
    if (!event) return false;
    await engineIo(settleWaiting(store, run.id, name, { ok: true, result: { name: event.name, payload: event.payload } }));
    return true;
  }

  async function approval(
    name: string,
    request: Parameters<StepApi["approval"]>[1],
    position: number,
    row: StepRow | undefined,
  ): Promise<ApprovalDecision> {
    const approvals = deps.seams.approvals;
    if (!approvals)
      return fail(name, "approval", position, 1, {
        code: "STEP_UNAVAILABLE",
        message: "No approval requester is wired on this server: step.approval cannot run",
      });
    return waitStep(
      name,
      "approval",
      row,
      position,
      async () => {
        await engineIo(
          approvals.request({
            workspace: run.workspace,
            approvalType: request.approvalType,
            payload: request.payload ?? null,
            step: ref(name),
            ...optional(request),
          }),
        );
      },
      {},
    );
  }

  async function action(
    name: string,
    actionName: string,
    args: unknown,
    options: StepOptions | undefined,
    position: number,
    row: StepRow | undefined,
  ): Promise<unknown> {
    const actions = deps.seams.actions;
    if (!actions)
      return fail(name, "action", position + 1, 1, {
        code: "STEP_UNAVAILABLE",
        message: "No action executor is wired on this server: step.action cannot run",
      });
    const approvalName = `${name}:approval`;
    const approvalRow = inv.steps.get(approvalName);
    let approvedBy: string | undefined;
    const verdict = await engineIo(actions.policy(run.workspace, actionName));
    if (!verdict.allowed)
      return fail(name, "action", position + 1, 1, {
        code: verdict.code ?? "ACTION_NOT_ALLOWED",
        message: verdict.reason ?? `Action "${actionName}" is not allowed`,
      });
    if (verdict.requiresApproval || approvalRow) {
      const known = memo(approvalRow);
      const decision = (
        known.done
          ? known.value
          : await approval(
              approvalName,
              { approvalType: "action", payload: { action: actionName, args, run: run.id, step: name } },
              position,
              approvalRow,
            )
      ) as ApprovalDecision;
      if (!decision.approved)
        return fail(name, "action", position + 1, 1, {
          code: "ACTION_REJECTED",
          message: `Action "${actionName}" was rejected${decision.reason ? `: ${decision.reason}` : ""}`,
        });
      approvedBy = decision.decided_by ?? undefined;
    }
    // A `waiting` row was woken by a person's decision on an unknown outcome: the same key again, and
    // the executor applies the decision (re-run once, not run, or done); undecided, it waits again.
    return attempt(name, "action", position + 1, row, options, async (attemptNo) => {
      const request = {
        workspace: run.workspace,
        action: actionName,
        args,
        idempotencyKey: `${run.id}:${name}`,
        actor: `run:${run.id}`,
        step: ref(name),
        ...(approvedBy ? { approvedBy } : {}),
      };
      let outcome = await actions.execute(request);
      if (outcome.status === "unknown") {
        // Unknown (a crash mid-call): a person decides on the approval task, whose decision wakes this step.
        await write({ name, position: position + 1, kind: "action", status: "waiting", attempts: attemptNo });
        // A decision taken before the row said `waiting` woke nobody: look once more now that it does.
        outcome = await actions.execute(request);
        if (outcome.status === "unknown") return inv.suspend(new RunSuspended("waiting"));
      }
      if (outcome.status === "succeeded") return outcome.result;
      throw Object.assign(
        new SluiceError("STEP_FAILED", `${outcome.error.code}: ${outcome.error.message}`, { retryable: outcome.retryable }),
        { stepError: outcome.error },
      );
    });
  }

  return {
    runId: run.id,
    workspace: run.workspace,
    entityKey: run.entity_key,
    task: (name, type, input, options) =>
      durable(name, "task", (row, position) =>
        attempt(name, "task", position, row, options, async (attemptNo) => {
          const task = deps.tasks.require(type);
          const parsed = deps.tasks.parseInput(task, input);
          await deps.gate?.({ type, workspace: run.workspace, queue: deps.queue });
          const logger = deps.logger.child({ runId: run.id, step: name, type });
          return task.handler(parsed, {
            jobId: `${run.id}:${name}`,
            queue: deps.queue,
            workspace: run.workspace,
            attempt: attemptNo,
            signal: deps.signal,
            logger,
            progress: async () => undefined,
          });
        }),
      ) as never,
    run: (name, fn, options) =>
      durable(name, "run", (row, position) => attempt(name, "run", position, row, options, async () => fn())) as never,
    action: (name, actionName, args, options) =>
      durable(name, "action", (row, position) => action(name, actionName, args, options, position, row), 2) as never,
    approval: (name, request) => durable(name, "approval", (row, position) => approval(name, request, position, row)),
    sleep: (name, duration) =>
      durable(name, "sleep", async (row, position) => {
        const wakeAt = row?.wake_at ?? new Date(Date.now() + durationMs(duration));
        if (wakeAt.getTime() <= Date.now()) {
          await write({ name, position, kind: "sleep", status: "completed", attempts: 1, result: null });
          return undefined;
        }
        if (!row) {
          await assertNotCancelled();
          await write({ name, position, kind: "sleep", status: "sleeping", attempts: 1, wakeAt });
        }
        return inv.suspend(new RunSuspended("sleeping", { at: wakeAt, key: `${name}#wake` }));
      }),
    waitForEvent: (name, spec, timeout) => {
      // Reached now, at the call: an event the function sends after this line (a step beside the wait,
      // in Promise.all) is sent after it, even if the store answers that send before anything of the wait.
      const reachedAt = inv.clock.now();
      return durable(name, "wait_event", async (row, position) => {
        if (row?.status === "waiting" && row.wake_at && row.wake_at.getTime() <= Date.now()) {
          // Timed out: settle it as null unless an event got there first.
          if (await engineIo(settleWaiting(store, run.id, name, { ok: true, result: null }))) return null;
          const now = (await engineIo(listSteps(store, run.id))).find((s) => s.name === name);
          return (now?.result ?? null) as never;
        }
        // The wait sees events recorded at or after the step was first reached (the database's clock).
        const since = row?.started_at ?? reachedAt;
        const wakeAt = timeout === undefined ? null : new Date(Date.now() + durationMs(timeout));
        return waitStep(
          name,
          "wait_event",
          row,
          position,
          async () => {
            // An event sent between reaching the step and writing its row found no waiting step: take it from the buffer.
            if (await takeBufferedEvent(name, spec, since))
              inv.suspend(new RunSuspended("sleeping", { at: new Date(), key: `${name}#event` }));
          },
          { wakeAt, waitEvent: spec.event, waitMatch: spec.match ?? {}, startedAt: since },
        );
      });
    },
    setState: (state, reason) => {
      inv.stateChanges += 1;
      const name = `setState#${inv.stateChanges}`;
      return durable(name, "set_state", async (_row, position) => {
        await assertNotCancelled();
        const outcome = await engineIo(
          applyTransition(store, { run, definition, to: state, reason: reason ?? null, stepName: name, position }),
        );
        if (!outcome.ok) return fail(name, "set_state", position, 1, outcome.error);
      });
    },
  };
}

function optional(request: { pipelineStage?: string; assignee?: string; dueInMs?: number }) {
  return {
    ...(request.pipelineStage ? { pipelineStage: request.pipelineStage } : {}),
    ...(request.assignee ? { assignee: request.assignee } : {}),
    ...(request.dueInMs ? { dueInMs: request.dueInMs } : {}),
  };
}
