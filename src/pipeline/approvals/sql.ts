import type { Queryable } from "../../ports/store.ts";
import type { ApprovalStatus } from "../runs/contracts.ts";

/** The statements over `approval_tasks`, `approval_type_configs` and the archive (migrations/0008). */

export type OnDeadline = "expire" | "escalate" | "auto_approve" | "auto_reject";

export interface ApprovalTaskRow {
  id: string;
  workspace_id: string;
  pipeline_stage: string | null;
  approval_type: string;
  run_id: string | null;
  step_name: string | null;
  payload: unknown;
  status: ApprovalStatus;
  assignee: string | null;
  due_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
  reason: string | null;
  created_at: Date;
  breached_at: Date | null;
  resumed_at: Date | null;
  /** The step's attempt this task decides (an action's execution attempt); 1 for a step.approval. */
  attempt: number;
}

export interface ApprovalTypeConfigRow {
  workspace_id: string;
  approval_type: string;
  sla_seconds: number;
  assignee_rule: string | null;
  on_deadline: OnDeadline;
  escalate_to: string | null;
  notify_action: string | null;
  notify_args: Record<string, unknown>;
  updated_at: Date;
  updated_by: string;
}

const TASK_COLUMNS =
  "id, workspace_id, pipeline_stage, approval_type, run_id, step_name, payload, status, assignee, due_at, decided_at, decided_by, reason, created_at, breached_at, resumed_at, attempt";
const CONFIG_COLUMNS =
  "workspace_id, approval_type, sla_seconds, assignee_rule, on_deadline, escalate_to, notify_action, notify_args, updated_at, updated_by";

export interface NewTask {
  id: string;
  workspaceId: string;
  pipelineStage: string | null;
  approvalType: string;
  runId: string | null;
  stepName: string | null;
  payload: unknown;
  assignee: string | null;
  dueAt: Date;
  attempt: number;
}

/** Inserts a task; for a run's step attempt that already has one, inserts nothing (see `selectTaskForStep`). */
export async function insertTask(db: Queryable, task: NewTask): Promise<ApprovalTaskRow | undefined> {
  const { rows } = await db.query<ApprovalTaskRow>(
    `INSERT INTO approval_tasks (id, workspace_id, pipeline_stage, approval_type, run_id, step_name, payload, assignee, due_at, attempt)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)
     ON CONFLICT (run_id, step_name, attempt) WHERE run_id IS NOT NULL DO NOTHING
     RETURNING ${TASK_COLUMNS}`,
    [
      task.id,
      task.workspaceId,
      task.pipelineStage,
      task.approvalType,
      task.runId,
      task.stepName,
      JSON.stringify(task.payload ?? {}),
      task.assignee,
      task.dueAt,
      task.attempt,
    ],
  );
  return rows[0];
}

export async function selectTaskForStep(
  db: Queryable,
  runId: string,
  stepName: string,
  attempt: number,
): Promise<ApprovalTaskRow | undefined> {
  const { rows } = await db.query<ApprovalTaskRow>(
    `SELECT ${TASK_COLUMNS} FROM approval_tasks WHERE run_id = $1 AND step_name = $2 AND attempt = $3`,
    [runId, stepName, attempt],
  );
  return rows[0];
}

export async function selectTask(db: Queryable, workspaceId: string, id: string, forUpdate = false): Promise<ApprovalTaskRow | undefined> {
  const { rows } = await db.query<ApprovalTaskRow>(
    `SELECT ${TASK_COLUMNS} FROM approval_tasks WHERE workspace_id = $1 AND id = $2${forUpdate ? " FOR UPDATE" : ""}`,
    [workspaceId, id],
  );
  return rows[0];
}

export interface InboxFilter {
  workspaceId: string;
  approvalType?: string | undefined;
  pipelineStage?: string | undefined;
  assignee?: string | undefined;
  statuses?: readonly ApprovalStatus[] | undefined;
  overdue?: boolean | undefined;
  limit: number;
  offset: number;
}

/** The inbox: oldest deadline first, so what breaches next is on top. */
export async function selectInbox(db: Queryable, filter: InboxFilter): Promise<{ tasks: ApprovalTaskRow[]; total: number }> {
  const where = `workspace_id = $1
       AND ($2::text IS NULL OR approval_type = $2)
       AND ($3::text IS NULL OR pipeline_stage = $3)
       AND ($4::text IS NULL OR assignee = $4)
       AND ($5::text[] IS NULL OR status = ANY($5::text[]))
       AND (NOT $6::boolean OR (status IN ('pending', 'escalated') AND due_at < now()))`;
  const params = [
    filter.workspaceId,
    filter.approvalType ?? null,
    filter.pipelineStage ?? null,
    filter.assignee ?? null,
    filter.statuses ? [...filter.statuses] : null,
    filter.overdue ?? false,
  ];
  const [page, count] = await Promise.all([
    db.query<ApprovalTaskRow>(`SELECT ${TASK_COLUMNS} FROM approval_tasks WHERE ${where} ORDER BY due_at, id LIMIT $7 OFFSET $8`, [
      ...params,
      filter.limit,
      filter.offset,
    ]),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM approval_tasks WHERE ${where}`, params),
  ]);
  return { tasks: page.rows, total: count.rows[0]?.n ?? 0 };
}

export interface Decision {
  status: "approved" | "rejected" | "expired";
  decidedBy: string;
  reason: string | null;
}

/** Settles an open task (pending or escalated); a decision after the deadline marks the breach (once). */
export async function decideTask(db: Queryable, id: string, decision: Decision): Promise<ApprovalTaskRow | undefined> {
  const { rows } = await db.query<ApprovalTaskRow>(
    `UPDATE approval_tasks SET status = $2, decided_at = now(), decided_by = $3, reason = $4,
            breached_at = COALESCE(breached_at, CASE WHEN now() > due_at THEN now() END)
     WHERE id = $1 AND status IN ('pending', 'escalated')
     RETURNING ${TASK_COLUMNS}`,
    [id, decision.status, decision.decidedBy, decision.reason],
  );
  return rows[0];
}

/** Open tasks of runs that were cancelled: expired with the reason, and marked told (the run is gone, nothing to resume). */
export async function withdrawForRuns(
  db: Queryable,
  runIds: readonly string[],
  decidedBy: string,
  reason: string,
): Promise<ApprovalTaskRow[]> {
  if (runIds.length === 0) return [];
  const { rows } = await db.query<ApprovalTaskRow>(
    `UPDATE approval_tasks SET status = 'expired', decided_at = now(), decided_by = $2, reason = $3, resumed_at = now()
     WHERE run_id = ANY ($1::text[]) AND status IN ('pending', 'escalated')
     RETURNING ${TASK_COLUMNS}`,
    [runIds, decidedBy, reason],
  );
  return rows;
}

export async function reassignTask(db: Queryable, id: string, assignee: string): Promise<ApprovalTaskRow | undefined> {
  const { rows } = await db.query<ApprovalTaskRow>(
    `UPDATE approval_tasks SET assignee = $2 WHERE id = $1 AND status IN ('pending', 'escalated') RETURNING ${TASK_COLUMNS}`,
    [id, assignee],
  );
  return rows[0];
}

/**
 * Pending tasks past their deadline, locked for this sweep (another sweeper skips them). Strictly
 * past: a task taken at its deadline's exact instant would be decided with `decided_at = due_at`,
 * which is no breach by the seed's SQL (`decided_at > due_at`) nor by `decideTask`; PGlite's clock
 * has millisecond steps, as `due_at` has, so that instant comes up.
 */
export async function claimOverdue(db: Queryable, limit: number): Promise<ApprovalTaskRow[]> {
  const { rows } = await db.query<ApprovalTaskRow>(
    `SELECT ${TASK_COLUMNS} FROM approval_tasks WHERE status = 'pending' AND due_at < now() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows;
}

export async function escalateTask(db: Queryable, id: string, assignee: string | null): Promise<void> {
  await db.query(
    `UPDATE approval_tasks SET status = 'escalated', assignee = COALESCE($2, assignee), breached_at = COALESCE(breached_at, now()) WHERE id = $1`,
    [id, assignee],
  );
}

export async function markResumed(db: Queryable, id: string): Promise<void> {
  await db.query("UPDATE approval_tasks SET resumed_at = now() WHERE id = $1 AND resumed_at IS NULL", [id]);
}

/** Decided tasks whose run was not told (a crash or a failure between the decision and the resume). */
export async function selectUnresumed(db: Queryable, olderThanMs: number, limit: number): Promise<ApprovalTaskRow[]> {
  const { rows } = await db.query<ApprovalTaskRow>(
    `SELECT ${TASK_COLUMNS} FROM approval_tasks
     WHERE run_id IS NOT NULL AND resumed_at IS NULL AND decided_at IS NOT NULL AND decided_at < now() - make_interval(secs => $1)
     ORDER BY decided_at LIMIT $2`,
    [olderThanMs / 1000, limit],
  );
  return rows;
}

/** Open tasks per type, for the `hitl_tasks_pending` gauge. */
export async function countOpenByType(db: Queryable): Promise<Array<{ approval_type: string; n: number }>> {
  const { rows } = await db.query<{ approval_type: string; n: number }>(
    "SELECT approval_type, count(*)::int AS n FROM approval_tasks WHERE status IN ('pending', 'escalated') GROUP BY approval_type",
  );
  return rows;
}

/** Open tasks per assignee among `candidates`, for the `least_pending:` rule. */
export async function countOpenByAssignee(db: Queryable, workspaceId: string, candidates: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ assignee: string; n: number }>(
    "SELECT assignee, count(*)::int AS n FROM approval_tasks WHERE workspace_id = $1 AND assignee = ANY($2::text[]) AND status IN ('pending', 'escalated') GROUP BY assignee",
    [workspaceId, [...candidates]],
  );
  return new Map(rows.map((r) => [r.assignee, r.n]));
}

export interface ArchiveFilter {
  workspaceId: string;
  olderThanSeconds: number;
  pipelineStage?: string | undefined;
}

/** Seed 003 §5.1's two statements, one transaction's worth: decided tasks older than the cut-off move to the archive. */
export async function archiveDecided(db: Queryable, filter: ArchiveFilter): Promise<number> {
  const where = `workspace_id = $1 AND ($3::text IS NULL OR pipeline_stage = $3)
      AND status IN ('approved', 'rejected', 'expired') AND decided_at < now() - make_interval(secs => $2)`;
  const params = [filter.workspaceId, filter.olderThanSeconds, filter.pipelineStage ?? null];
  await db.query(`INSERT INTO approval_tasks_archive SELECT * FROM approval_tasks WHERE ${where} ON CONFLICT (id) DO NOTHING`, params);
  const { rowCount } = await db.query(`DELETE FROM approval_tasks WHERE ${where}`, params);
  return rowCount;
}

export async function selectTypeConfig(
  db: Queryable,
  workspaceId: string,
  approvalType: string,
): Promise<ApprovalTypeConfigRow | undefined> {
  const { rows } = await db.query<ApprovalTypeConfigRow>(
    `SELECT ${CONFIG_COLUMNS} FROM approval_type_configs WHERE workspace_id = $1 AND approval_type = $2`,
    [workspaceId, approvalType],
  );
  return rows[0];
}

export async function selectTypeConfigs(db: Queryable, workspaceId: string): Promise<ApprovalTypeConfigRow[]> {
  const { rows } = await db.query<ApprovalTypeConfigRow>(
    `SELECT ${CONFIG_COLUMNS} FROM approval_type_configs WHERE workspace_id = $1 ORDER BY approval_type`,
    [workspaceId],
  );
  return rows;
}

export interface TypeConfigInput {
  slaSeconds: number;
  assigneeRule: string | null;
  onDeadline: OnDeadline;
  escalateTo: string | null;
  notifyAction: string | null;
  notifyArgs: Record<string, unknown>;
}

export async function upsertTypeConfig(
  db: Queryable,
  workspaceId: string,
  approvalType: string,
  input: TypeConfigInput,
  actor: string,
): Promise<ApprovalTypeConfigRow> {
  const { rows } = await db.query<ApprovalTypeConfigRow>(
    `INSERT INTO approval_type_configs (workspace_id, approval_type, sla_seconds, assignee_rule, on_deadline, escalate_to, notify_action, notify_args, updated_at, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, now(), $9)
     ON CONFLICT (workspace_id, approval_type) DO UPDATE SET sla_seconds = EXCLUDED.sla_seconds, assignee_rule = EXCLUDED.assignee_rule,
       on_deadline = EXCLUDED.on_deadline, escalate_to = EXCLUDED.escalate_to, notify_action = EXCLUDED.notify_action,
       notify_args = EXCLUDED.notify_args, updated_at = now(), updated_by = EXCLUDED.updated_by
     RETURNING ${CONFIG_COLUMNS}`,
    [
      workspaceId,
      approvalType,
      input.slaSeconds,
      input.assigneeRule,
      input.onDeadline,
      input.escalateTo,
      input.notifyAction,
      JSON.stringify(input.notifyArgs),
      actor,
    ],
  );
  const row = rows[0];
  if (!row) throw new Error(`upsert of approval type ${approvalType} returned no row`);
  return row;
}
