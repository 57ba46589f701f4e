import { randomUUID } from "node:crypto";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Store } from "../../ports/store.ts";
import type { AdminActor } from "../admin/queue-admin.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type {
  ActionExecutor,
  ApprovalRequest,
  ApprovalRequester,
  ApprovalTaskView,
  WaitOutcome,
  WaitingStepResumer,
} from "../runs/contracts.ts";
import type { ApprovalInstruments } from "./instruments.ts";
import * as sql from "./sql.ts";
import { isOpen, toContractView, toTaskJson, toTypeJson, type ApprovalTaskJson, type ApprovalTypeJson } from "./view.ts";

export interface ApprovalsServiceDeps {
  store: Store;
  audit: AuditLog;
  instruments: ApprovalInstruments;
  logger: Logger;
  /** Deadline of a type without a config, and of `POST /api/approvals` without `due_in_seconds`. */
  defaultSlaSeconds: number;
  /** Late-bound (runs are wired after approvals): settles the step a decided task's run waits on. */
  resumer?: (() => WaitingStepResumer | undefined) | undefined;
  /** Late-bound: sends the "new task" notification a type config names. */
  actions?: (() => ActionExecutor | undefined) | undefined;
}

export interface InboxQuery {
  approvalType?: string | undefined;
  pipelineStage?: string | undefined;
  assignee?: string | undefined;
  status?: readonly sql.ApprovalTaskRow["status"][] | undefined;
  overdue?: boolean | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
}

export interface TypeConfigUpdate {
  sla_seconds: number;
  assignee_rule?: string | null | undefined;
  on_deadline?: sql.OnDeadline | undefined;
  escalate_to?: string | null | undefined;
  notify_action?: string | null | undefined;
  notify_args?: Record<string, unknown> | undefined;
}

/** What a decided task tells the run waiting on it: approved/rejected settle the step; expiry fails it. */
function outcomeOf(row: sql.ApprovalTaskRow): WaitOutcome {
  if (row.status === "expired") {
    return {
      ok: false,
      error: {
        code: "APPROVAL_EXPIRED",
        message: `Approval ${row.id} (${row.approval_type}) expired at ${row.due_at.toISOString()} without a decision`,
      },
    };
  }
  return { ok: true, result: { approved: row.status === "approved", decided_by: row.decided_by, reason: row.reason } };
}

/** Approval tasks: created by runs (or the API), decided by people or the deadline, audited, resuming their run. */
export function createApprovalsService(deps: ApprovalsServiceDeps) {
  const { store, audit, instruments, logger } = deps;

  const notFound = (id: string) => new SluiceError("APPROVAL_NOT_FOUND", `No approval task ${id}`, { details: { id } });

  async function pickAssignee(workspaceId: string, rule: string | null): Promise<string | null> {
    if (!rule) return null;
    const leastPending = /^least_pending:(.+)$/.exec(rule);
    if (!leastPending?.[1]) return rule;
    const candidates = leastPending[1]
      .split(",")
      .map((c) => c.trim())
      .filter(Boolean);
    const open = await sql.countOpenByAssignee(store, workspaceId, candidates);
    return candidates.reduce<string | null>((best, c) => (best === null || (open.get(c) ?? 0) < (open.get(best) ?? 0) ? c : best), null);
  }

  async function notify(
    row: sql.ApprovalTaskRow,
    config: sql.ApprovalTypeConfigRow | undefined,
    event: "created" | "escalated" = "created",
  ): Promise<void> {
    if (!config?.notify_action) return;
    const executor = deps.actions?.();
    if (!executor) {
      logger.warn(
        { approvalId: row.id, action: config.notify_action },
        "approval type names a notify action but no action executor is wired: no notification sent",
      );
      return;
    }
    try {
      const outcome = await executor.execute({
        workspace: row.workspace_id,
        action: config.notify_action,
        args: { ...config.notify_args, approval: toTaskJson(row), event },
        idempotencyKey: `approval:${row.id}:${event}`,
        actor: "approvals",
      });
      if (outcome.status !== "succeeded") logger.warn({ approvalId: row.id, outcome }, "approval notification did not succeed");
    } catch (err) {
      logger.warn({ err, approvalId: row.id }, "approval notification failed");
    }
  }

  async function create(request: ApprovalRequest): Promise<{ row: sql.ApprovalTaskRow; created: boolean }> {
    const attempt = request.attempt ?? 1;
    if (request.step) {
      const existing = await sql.selectTaskForStep(store, request.step.runId, request.step.stepName, attempt);
      if (existing) return { row: existing, created: false };
    }
    const config = await sql.selectTypeConfig(store, request.workspace, request.approvalType);
    const slaMs = request.dueInMs ?? (config?.sla_seconds ?? deps.defaultSlaSeconds) * 1000;
    const inserted = await sql.insertTask(store, {
      id: randomUUID(),
      workspaceId: request.workspace,
      pipelineStage: request.pipelineStage ?? null,
      approvalType: request.approvalType,
      runId: request.step?.runId ?? null,
      stepName: request.step?.stepName ?? null,
      payload: request.payload,
      assignee: request.assignee ?? (await pickAssignee(request.workspace, config?.assignee_rule ?? null)),
      dueAt: new Date(Date.now() + slaMs),
      attempt,
    });
    // Lost a race with the same step's other request: theirs is the task.
    if (!inserted && request.step) {
      const theirs = await sql.selectTaskForStep(store, request.step.runId, request.step.stepName, attempt);
      if (theirs) return { row: theirs, created: false };
    }
    if (!inserted) throw new SluiceError("INTERNAL", "approval task insert returned no row");
    await notify(inserted, config);
    return { row: inserted, created: true };
  }

  /** Tells the waiting run; a failure is retried by the deadline sweep (the task keeps `resumed_at` empty). */
  async function resume(row: sql.ApprovalTaskRow): Promise<void> {
    if (!row.run_id || !row.step_name || isOpen(row)) return;
    const resumer = deps.resumer?.();
    if (!resumer) {
      logger.warn({ approvalId: row.id, runId: row.run_id }, "no run resumer is wired: the decided task's run stays waiting until one is");
      return;
    }
    try {
      await resumer.settleWaitingStep({ runId: row.run_id, stepName: row.step_name }, outcomeOf(row));
      await sql.markResumed(store, row.id);
    } catch (err) {
      logger.error({ err, approvalId: row.id, runId: row.run_id }, "could not resume the run waiting on an approval; the sweep retries");
    }
  }

  /** After a decision commits: metrics, then the run. */
  async function settled(row: sql.ApprovalTaskRow, wasBreached: boolean): Promise<void> {
    if (!wasBreached && row.breached_at) instruments.breached(row.approval_type);
    if (row.decided_at) instruments.resolved(row.approval_type, (row.decided_at.getTime() - row.created_at.getTime()) / 1000);
    // An escalation has a new assignee who must hear of it, through the same notify action as a new task.
    if (row.status === "escalated")
      await notify(row, await sql.selectTypeConfig(store, row.workspace_id, row.approval_type).catch(() => undefined), "escalated");
    await resume(row);
  }

  async function decide(
    actor: AdminActor & { workspaceId: string },
    id: string,
    approved: boolean,
    reason: string | undefined,
  ): Promise<ApprovalTaskJson> {
    let before: sql.ApprovalTaskRow | undefined;
    const row = await audit.audited(
      {
        actor: actor.actor,
        action: approved ? "approval.approve" : "approval.reject",
        workspaceId: actor.workspaceId,
        target: id,
        reason: reason ?? null,
      },
      () =>
        store.transaction(async (tx) => {
          before = await sql.selectTask(tx, actor.workspaceId, id, true);
          if (!before) throw notFound(id);
          if (!isOpen(before))
            throw new SluiceError("APPROVAL_ALREADY_DECIDED", `Approval task ${id} is already ${before.status}`, {
              details: { id, status: before.status, decided_by: before.decided_by },
            });
          const decided = await sql.decideTask(tx, id, {
            status: approved ? "approved" : "rejected",
            decidedBy: actor.actor,
            reason: reason ?? null,
          });
          if (!decided) throw new SluiceError("APPROVAL_ALREADY_DECIDED", `Approval task ${id} was decided meanwhile`);
          return decided;
        }),
      (r) => ({ approval_type: r.approval_type, status: r.status, run_id: r.run_id, late: r.breached_at !== null }),
    );
    await settled(row, before?.breached_at != null);
    return toTaskJson(row);
  }

  async function reassign(actor: AdminActor & { workspaceId: string }, id: string, assignee: string): Promise<ApprovalTaskJson> {
    const row = await audit.audited(
      {
        actor: actor.actor,
        action: "approval.reassign",
        workspaceId: actor.workspaceId,
        target: id,
        reason: actor.reason ?? null,
        details: { assignee },
      },
      async () => {
        const current = await sql.selectTask(store, actor.workspaceId, id);
        if (!current) throw notFound(id);
        const updated = await sql.reassignTask(store, id, assignee);
        if (!updated)
          throw new SluiceError(
            "APPROVAL_ALREADY_DECIDED",
            `Approval task ${id} is already ${current.status}: only open tasks can be reassigned`,
          );
        return { updated, from: current.assignee };
      },
      (r) => ({ from: r.from, to: assignee }),
    );
    return toTaskJson(row.updated);
  }

  async function get(workspaceId: string, id: string): Promise<ApprovalTaskJson> {
    const row = await sql.selectTask(store, workspaceId, id);
    if (!row) throw notFound(id);
    return toTaskJson(row);
  }

  async function list(
    workspaceId: string,
    query: InboxQuery = {},
  ): Promise<{ tasks: ApprovalTaskJson[]; total: number; limit: number; offset: number }> {
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    const { tasks, total } = await sql.selectInbox(store, {
      workspaceId,
      approvalType: query.approvalType,
      pipelineStage: query.pipelineStage,
      assignee: query.assignee,
      statuses: query.status,
      overdue: query.overdue,
      limit,
      offset,
    });
    const now = Date.now();
    return { tasks: tasks.map((t) => toTaskJson(t, now)), total, limit, offset };
  }

  async function putType(
    actor: AdminActor & { workspaceId: string },
    approvalType: string,
    update: TypeConfigUpdate,
  ): Promise<ApprovalTypeJson> {
    const onDeadline = update.on_deadline ?? "expire";
    if (onDeadline === "escalate" && !update.escalate_to)
      throw new SluiceError("VALIDATION_FAILED", "on_deadline escalate needs escalate_to (who takes the task over)");
    const input: sql.TypeConfigInput = {
      slaSeconds: update.sla_seconds,
      assigneeRule: update.assignee_rule ?? null,
      onDeadline,
      escalateTo: update.escalate_to ?? null,
      notifyAction: update.notify_action ?? null,
      notifyArgs: update.notify_args ?? {},
    };
    const row = await audit.audited(
      {
        actor: actor.actor,
        action: "approval_type.put",
        workspaceId: actor.workspaceId,
        target: approvalType,
        reason: actor.reason ?? null,
        details: { ...update },
      },
      () => sql.upsertTypeConfig(store, actor.workspaceId, approvalType, input, actor.actor),
    );
    return toTypeJson(row);
  }

  async function listTypes(workspaceId: string): Promise<ApprovalTypeJson[]> {
    return (await sql.selectTypeConfigs(store, workspaceId)).map(toTypeJson);
  }

  /** Seed 003 §5.1 in one transaction: decided tasks older than the cut-off move to `approval_tasks_archive`. */
  async function archive(
    actor: AdminActor & { workspaceId: string },
    options: { olderThanSeconds: number; pipelineStage?: string | undefined },
  ): Promise<{ archived: number }> {
    const archived = await audit.audited(
      {
        actor: actor.actor,
        action: "approvals.archive",
        workspaceId: actor.workspaceId,
        reason: actor.reason ?? null,
        details: { older_than_seconds: options.olderThanSeconds, pipeline_stage: options.pipelineStage ?? null },
      },
      () =>
        store.transaction((tx) =>
          sql.archiveDecided(tx, {
            workspaceId: actor.workspaceId,
            olderThanSeconds: options.olderThanSeconds,
            pipelineStage: options.pipelineStage,
          }),
        ),
      (n) => ({ archived: n }),
    );
    return { archived };
  }

  const requester: ApprovalRequester = {
    async request(request): Promise<ApprovalTaskView> {
      return toContractView((await create(request)).row);
    },
    async withdrawForRuns(runIds, by, reason) {
      const rows = await sql.withdrawForRuns(store, runIds, by, reason);
      for (const row of rows) {
        await audit.record({
          actor: by,
          action: "approval.withdraw",
          workspaceId: row.workspace_id,
          target: row.id,
          reason,
          details: { approval_type: row.approval_type, run_id: row.run_id, status: row.status },
        });
        if (row.decided_at) instruments.resolved(row.approval_type, (row.decided_at.getTime() - row.created_at.getTime()) / 1000);
      }
      return rows.length;
    },
  };

  return { ...requester, create, get, list, decide, reassign, putType, listTypes, archive, resume, settled };
}

export type ApprovalsService = ReturnType<typeof createApprovalsService>;
