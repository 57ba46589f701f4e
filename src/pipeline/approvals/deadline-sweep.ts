import type { Logger } from "../../core/logger.ts";
import type { Store } from "../../ports/store.ts";
import { createAuditLog } from "../audit/audit-log.ts";
import * as sql from "./sql.ts";

/** Who decides when nobody did: the deadline, as it appears in `decided_by` and the audit log. */
const DEADLINE_ACTOR = "system:deadline";
const BATCH = 200;
// A decision's own request resumes its run; the sweep only retries ones left behind for a while.
const RESUME_RETRY_AFTER_MS = 15_000;

export interface SweepResult {
  expired: number;
  escalated: number;
  autoApproved: number;
  autoRejected: number;
  resumed: number;
}

interface SweepDeps {
  store: Store;
  logger: Logger;
  /** After the batch commits: breach metrics, resolution metrics and resuming the run, per decided task. */
  settled(row: sql.ApprovalTaskRow, wasBreached: boolean): Promise<void>;
  resume(row: sql.ApprovalTaskRow): Promise<void>;
}

type DeadlineOutcome = { kind: "decided"; row: sql.ApprovalTaskRow } | { kind: "escalated"; row: sql.ApprovalTaskRow };

async function applyDeadline(
  tx: Parameters<Parameters<Store["transaction"]>[0]>[0],
  task: sql.ApprovalTaskRow,
  config: sql.ApprovalTypeConfigRow | undefined,
): Promise<DeadlineOutcome> {
  const audit = createAuditLog(tx);
  const onDeadline = config?.on_deadline ?? "expire";
  const entry = {
    actor: DEADLINE_ACTOR,
    workspaceId: task.workspace_id,
    target: task.id,
    reason: `deadline ${task.due_at.toISOString()} passed`,
    details: { approval_type: task.approval_type, run_id: task.run_id },
  };
  if (onDeadline === "escalate") {
    await sql.escalateTask(tx, task.id, config?.escalate_to ?? null);
    await audit.record({ ...entry, action: "approval.escalate", details: { ...entry.details, escalate_to: config?.escalate_to ?? null } });
    return {
      kind: "escalated",
      row: { ...task, status: "escalated", assignee: config?.escalate_to ?? task.assignee, breached_at: new Date() },
    };
  }
  const status = onDeadline === "auto_approve" ? "approved" : onDeadline === "auto_reject" ? "rejected" : "expired";
  const decided = await sql.decideTask(tx, task.id, { status, decidedBy: DEADLINE_ACTOR, reason: entry.reason });
  await audit.record({ ...entry, action: `approval.${onDeadline}` });
  return { kind: "decided", row: decided ?? task };
}

/**
 * One pass of the deadline sweep: every pending task past `due_at` is expired, escalated or
 * auto-decided as its type says, in batches locked with SKIP LOCKED (several workers may sweep at
 * once); then decided tasks whose run was never told are told again.
 */
export async function sweepDeadlines(deps: SweepDeps): Promise<SweepResult> {
  const result: SweepResult = { expired: 0, escalated: 0, autoApproved: 0, autoRejected: 0, resumed: 0 };
  for (;;) {
    const outcomes = await deps.store.transaction(async (tx) => {
      const overdue = await sql.claimOverdue(tx, BATCH);
      const configs = new Map<string, sql.ApprovalTypeConfigRow | undefined>();
      const done: DeadlineOutcome[] = [];
      for (const task of overdue) {
        const key = `${task.workspace_id}\u0000${task.approval_type}`;
        if (!configs.has(key)) configs.set(key, await sql.selectTypeConfig(tx, task.workspace_id, task.approval_type));
        done.push(await applyDeadline(tx, task, configs.get(key)));
      }
      return done;
    });
    for (const outcome of outcomes) {
      count(result, outcome.row.status);
      await deps.settled(outcome.row, false);
    }
    if (outcomes.length < BATCH) break;
  }
  for (const row of await sql.selectUnresumed(deps.store, RESUME_RETRY_AFTER_MS, BATCH)) {
    await deps.resume(row);
    result.resumed += 1;
  }
  if (result.expired + result.escalated + result.autoApproved + result.autoRejected > 0)
    deps.logger.info({ ...result }, "approval deadlines applied");
  return result;
}

function count(result: SweepResult, status: sql.ApprovalTaskRow["status"]): void {
  if (status === "expired") result.expired += 1;
  else if (status === "escalated") result.escalated += 1;
  else if (status === "approved") result.autoApproved += 1;
  else if (status === "rejected") result.autoRejected += 1;
}
