import type { ApprovalTaskView } from "../runs/contracts.ts";
import type { ApprovalTaskRow, ApprovalTypeConfigRow } from "./sql.ts";

/** An approval task as the API and CLI show it: the table's names, timestamps as ISO strings. */
export interface ApprovalTaskJson {
  id: string;
  workspace: string;
  pipeline_stage: string | null;
  approval_type: string;
  run_id: string | null;
  step_name: string | null;
  payload: unknown;
  status: ApprovalTaskRow["status"];
  assignee: string | null;
  due_at: string;
  decided_at: string | null;
  decided_by: string | null;
  reason: string | null;
  created_at: string;
  /** Open (pending or escalated) and past its deadline. */
  overdue: boolean;
  /** When the deadline passed undecided or a decision came late; null while within the SLA. */
  breached_at: string | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function isOpen(row: Pick<ApprovalTaskRow, "status">): boolean {
  return row.status === "pending" || row.status === "escalated";
}

export function toTaskJson(row: ApprovalTaskRow, now = Date.now()): ApprovalTaskJson {
  return {
    id: row.id,
    workspace: row.workspace_id,
    pipeline_stage: row.pipeline_stage,
    approval_type: row.approval_type,
    run_id: row.run_id,
    step_name: row.step_name,
    payload: row.payload,
    status: row.status,
    assignee: row.assignee,
    due_at: row.due_at.toISOString(),
    decided_at: iso(row.decided_at),
    decided_by: row.decided_by,
    reason: row.reason,
    created_at: row.created_at.toISOString(),
    overdue: isOpen(row) && row.due_at.getTime() < now,
    breached_at: iso(row.breached_at),
  };
}

/** The runs seam's view (camelCase), with the whole task beside it. */
export function toContractView(row: ApprovalTaskRow): ApprovalTaskView & { task: ApprovalTaskJson } {
  return { id: row.id, status: row.status, decidedBy: row.decided_by, reason: row.reason, task: toTaskJson(row) };
}

export interface ApprovalTypeJson {
  approval_type: string;
  sla_seconds: number;
  assignee_rule: string | null;
  on_deadline: ApprovalTypeConfigRow["on_deadline"];
  escalate_to: string | null;
  notify_action: string | null;
  notify_args: Record<string, unknown>;
  updated_at: string;
  updated_by: string;
}

export function toTypeJson(row: ApprovalTypeConfigRow): ApprovalTypeJson {
  const { workspace_id: _workspace, updated_at, ...rest } = row;
  return { ...rest, updated_at: updated_at.toISOString() };
}
