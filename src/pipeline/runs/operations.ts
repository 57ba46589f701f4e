import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Store } from "../../ports/store.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { ApprovalRequester, WaitingStepResumer } from "./contracts.ts";
import { forceTransition } from "./entity-state.ts";
import { enqueueRun } from "./executor.ts";
import { listTransitions, readEntityState, type EntityKey } from "./sql/entities.ts";
import { purgeEvents, recordEvent, setEventMatched } from "./sql/events.ts";
import { cancelRuns, findRun, latestEntityRun, requeueRun } from "./sql/runs.ts";
import { deleteStepsFrom, listSteps, stepsWaitingFor } from "./sql/steps.ts";
import type { PipelineDefinition, RunRow, RunView, StartedRun, StartRunRequest } from "./types.ts";
import { eventMatches } from "./views.ts";

export interface OperationsDeps {
  store: Store;
  queues: QueueManager;
  queue: string;
  audit: AuditLog;
  logger: Logger;
  pipelineOf(name: string): PipelineDefinition;
  start(request: StartRunRequest): Promise<StartedRun>;
  get(id: string, workspace?: string): Promise<RunView>;
  resumer: WaitingStepResumer;
  /** The approvals side, read late (wired after the runs). */
  approvals(): ApprovalRequester | undefined;
  onSettled(run: RunRow): Promise<void>;
  eventRetentionMs: number;
}

/** Who acts and where: `workspace` null is every workspace (an operator's fleet-wide view; by-id operations only). */
export interface Actor {
  actor: string;
  workspace: string | null;
}

/** Operations on a tag or an entity name a workspace. */
export interface WorkspaceActor {
  actor: string;
  workspace: string;
}

const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;

/** What operators do to runs and entities (seed 003 §2.1, §2.2, §2.4), each audited. */
export function createRunOperations(deps: OperationsDeps) {
  const { store, audit } = deps;

  async function settleCancelled(rows: RunRow[], by: string): Promise<void> {
    // Their open approval tasks are moot: closed, so the inbox and hitl_tasks_pending stop counting them.
    const approvals = deps.approvals();
    if (approvals?.withdrawForRuns && rows.length > 0)
      await approvals
        .withdrawForRuns(
          rows.map((r) => r.id),
          by,
          "run cancelled",
        )
        .catch((err: unknown) => deps.logger.error({ err }, "could not close the cancelled runs' approval tasks"));
    for (const row of rows)
      await deps.onSettled(row).catch((err: unknown) => deps.logger.error({ err, runId: row.id }, "onRunSettled failed"));
  }

  /** Cancels one run; a settled run is CONFLICT. A step running right now finishes, and the run stops at its next step. */
  async function cancel(id: string, by: Actor, reason: string | null): Promise<RunView> {
    const before = await findRun(store, id, by.workspace ?? undefined);
    if (!before) throw new SluiceError("RUN_NOT_FOUND", `No run ${id}`);
    const rows = await audit.audited(
      { actor: by.actor, action: "run.cancel", workspaceId: before.workspace, target: id, reason, details: { before: before.status } },
      () => cancelRuns(store, { id, workspace: before.workspace }, reason),
    );
    if (rows.length === 0)
      throw new SluiceError("CONFLICT", `Run ${id} is ${before.status}: only unsettled runs can be cancelled`, {
        details: { status: before.status },
      });
    await settleCancelled(rows, by.actor);
    return deps.get(id);
  }

  /** Cancels every unsettled run of the workspace carrying `tag` (seed 003 §2.4: cancel a campaign). */
  async function cancelByTag(tag: string, by: WorkspaceActor, reason: string | null): Promise<{ cancelled: number; ids: string[] }> {
    const rows = await audit.audited(
      { actor: by.actor, action: "run.cancel_by_tag", workspaceId: by.workspace, target: tag, reason },
      () => cancelRuns(store, { tag, workspace: by.workspace }, reason),
      (cancelled) => ({ cancelled: cancelled.length }),
    );
    await settleCancelled(rows, by.actor);
    return { cancelled: rows.length, ids: rows.map((r) => r.id) };
  }

  /**
   * Runs a settled run again from `fromStep` (default: its failed step, else from the start): that
   * step and every later one are forgotten and run again; the earlier ones keep their results.
   */
  async function replay(id: string, by: Actor, fromStep?: string): Promise<RunView> {
    const run = await findRun(store, id, by.workspace ?? undefined);
    if (!run) throw new SluiceError("RUN_NOT_FOUND", `No run ${id}`);
    if (!["completed", "failed", "cancelled"].includes(run.status))
      throw new SluiceError("CONFLICT", `Run ${id} is ${run.status}: only settled runs can be replayed`, {
        details: { status: run.status },
      });
    const steps = await listSteps(store, id);
    const name = fromStep ?? run.failed_step ?? undefined;
    const from = name === undefined ? undefined : steps.find((s) => s.name === name);
    if (name !== undefined && !from && fromStep !== undefined)
      throw new SluiceError("STEP_NOT_FOUND", `Run ${id} has no step "${fromStep}"`, { details: { steps: steps.map((s) => s.name) } });
    const position = from?.position ?? 0;
    await audit.audited(
      {
        actor: by.actor,
        action: "run.replay",
        workspaceId: run.workspace,
        target: id,
        details: { from_step: from?.name ?? null, before: run.status },
      },
      async () => {
        await store.transaction(async (tx) => {
          await deleteStepsFrom(tx, id, position);
          if (!(await requeueRun(tx, id))) throw new SluiceError("CONFLICT", `Run ${id} changed meanwhile`);
        });
      },
    );
    await enqueueRun(deps.queues, deps.queue, id);
    return deps.get(id);
  }

  /** Starts a new run of the pipeline for the entity with its latest run's input (seed 003 §2.2). */
  async function rerunEntity(pipeline: string, entityKey: string, by: WorkspaceActor, tags?: readonly string[]): Promise<StartedRun> {
    deps.pipelineOf(pipeline);
    const latest = await latestEntityRun(store, by.workspace, pipeline, entityKey);
    if (!latest) throw new SluiceError("ENTITY_NOT_FOUND", `No run of "${pipeline}" for entity "${entityKey}"`);
    return audit.audited(
      {
        actor: by.actor,
        action: "entity.rerun",
        workspaceId: by.workspace,
        target: `${pipeline}/${entityKey}`,
        details: { previous_run: latest.id },
      },
      () => deps.start({ pipeline, workspace: by.workspace, input: latest.input, entityKey, tags: tags ?? latest.tags }),
      (started) => ({ run: started.id }),
    );
  }

  /** Records an event and settles every step of the workspace's runs waiting for it with a matching payload. */
  async function sendEvent(workspace: string, name: string, payload: unknown): Promise<{ id: number; matched: number; runs: string[] }> {
    if (!EVENT_NAME.test(name))
      throw new SluiceError("VALIDATION_FAILED", "An event name is 1-200 letters, digits, '.', '_', ':', '/', '-'");
    await purgeEvents(store, workspace, deps.eventRetentionMs).catch((err: unknown) =>
      deps.logger.warn({ err }, "could not purge expired events"),
    );
    const id = await recordEvent(store, workspace, name, payload);
    const waiting = (await stepsWaitingFor(store, workspace, name)).filter((s) => eventMatches(s.wait_match, payload));
    const runs: string[] = [];
    for (const step of waiting) {
      await deps.resumer.settleWaitingStep({ runId: step.run_id, stepName: step.name }, { ok: true, result: { name, payload } });
      runs.push(step.run_id);
    }
    await setEventMatched(store, id, runs.length);
    return { id, matched: runs.length, runs };
  }

  async function entityState(pipeline: string, entityKey: string, workspace: string) {
    deps.pipelineOf(pipeline);
    const key: EntityKey = { workspace, pipeline, entityKey };
    const current = await readEntityState(store, key);
    if (!current) throw new SluiceError("ENTITY_NOT_FOUND", `Entity "${entityKey}" has no state in "${pipeline}"`);
    return {
      pipeline,
      entity_key: entityKey,
      state: current.state,
      updated_at: current.updated_at,
      transitions: await listTransitions(store, key, 50),
    };
  }

  /** Forces an entity's state (seed 003 §2.1), audited with before and after; the declared transitions apply unless `bypassRules`. */
  async function setEntityState(
    pipeline: string,
    entityKey: string,
    by: WorkspaceActor,
    request: { state: string; reason: string; bypassRules: boolean },
  ) {
    const definition = deps.pipelineOf(pipeline);
    const key: EntityKey = { workspace: by.workspace, pipeline, entityKey };
    const entry = {
      actor: by.actor,
      action: "entity.set_state",
      workspaceId: by.workspace,
      target: `${pipeline}/${entityKey}`,
      reason: request.reason,
      details: { to: request.state, bypass_rules: request.bypassRules },
    };
    const outcome = await audit.audited(
      entry,
      async () => {
        const result = await forceTransition(store, key, {
          to: request.state,
          reason: request.reason,
          actor: by.actor,
          bypassRules: request.bypassRules,
          transitions: definition.transitions,
        });
        if (!result.ok)
          throw new SluiceError("STATE_TRANSITION_NOT_ALLOWED", `${result.error.message}; send bypass_rules: true to force it`, {
            details: { from: result.from, to: request.state },
          });
        return result.transition;
      },
      (t) => ({ before: t.from, after: t.to }),
    );
    return { pipeline, entity_key: entityKey, from: outcome.from, to: outcome.to, bypass_rules: request.bypassRules };
  }

  return { cancel, cancelByTag, replay, rerunEntity, sendEvent, entityState, setEntityState };
}
