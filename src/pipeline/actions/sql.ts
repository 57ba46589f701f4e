import type { Queryable } from "../../ports/store.ts";

/**
 * The statements over `action_executions` and `workspace_action_policies` (migrations/0007). Every
 * change of an execution's status is one conditional UPDATE, so two workers racing on one row
 * cannot both win: the one whose UPDATE returns the row owns the next step.
 */

type ExecutionStatus = "started" | "succeeded" | "failed" | "unknown";
export type Resolution = "retry" | "skip" | "succeeded";

export interface ExecutionRow {
  id: string;
  workspace_id: string;
  action: string;
  idempotency_key: string;
  args_hash: string;
  args: unknown;
  status: ExecutionStatus;
  actor: string;
  run_id: string | null;
  step_name: string | null;
  approved_by: string | null;
  attempts: number;
  result: unknown;
  error_code: string | null;
  error_message: string | null;
  retryable: boolean;
  approval_id: string | null;
  resolution: Resolution | null;
  resolved_by: string | null;
  started_at: Date;
  heartbeat_at: Date;
  finished_at: Date | null;
}

const COLUMNS = `id, workspace_id, action, idempotency_key, args_hash, args, status, actor, run_id, step_name, approved_by, attempts,
  result, error_code, error_message, retryable, approval_id, resolution, resolved_by, started_at, heartbeat_at, finished_at`;
/** A heartbeat older than the lease ($n milliseconds), on the database's clock (the same for every process). */
const stale = (param: string) => `heartbeat_at < now() - make_interval(secs => ${param}::double precision / 1000)`;

export interface NewExecution {
  workspace: string;
  action: string;
  idempotencyKey: string;
  argsHash: string;
  args: unknown;
  actor: string;
  runId: string | null;
  stepName: string | null;
  approvedBy: string | null;
  /** The approval task this execution uses up (one execution per approval). */
  approvalId: string | null;
}

/**
 * Writes `started`; undefined when the key already has a row (someone else's, or an earlier
 * attempt's) or the approval was already used by another execution: either unique index refuses it.
 */
export async function insertStarted(db: Queryable, e: NewExecution): Promise<ExecutionRow | undefined> {
  const { rows } = await db.query<ExecutionRow>(
    `INSERT INTO action_executions (workspace_id, action, idempotency_key, args_hash, args, status, actor, run_id, step_name, approved_by,
       consumed_approval_id)
     VALUES ($1, $2, $3, $4, $5::jsonb, 'started', $6, $7, $8, $9, $10)
     ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
    [e.workspace, e.action, e.idempotencyKey, e.argsHash, JSON.stringify(e.args), e.actor, e.runId, e.stepName, e.approvedBy, e.approvalId],
  );
  return rows[0];
}

/** The execution that used up this approval task, if any. */
export async function selectByConsumedApproval(db: Queryable, approvalId: string): Promise<ExecutionRow | undefined> {
  const { rows } = await db.query<ExecutionRow>(`SELECT ${COLUMNS} FROM action_executions WHERE consumed_approval_id = $1`, [approvalId]);
  return rows[0];
}

export async function selectByKey(db: Queryable, workspace: string, idempotencyKey: string): Promise<ExecutionRow | undefined> {
  const { rows } = await db.query<ExecutionRow>(
    `SELECT ${COLUMNS} FROM action_executions WHERE workspace_id = $1 AND idempotency_key = $2`,
    [workspace, idempotencyKey],
  );
  return rows[0];
}

export async function selectById(db: Queryable, id: string): Promise<ExecutionRow | undefined> {
  const { rows } = await db.query<ExecutionRow>(`SELECT ${COLUMNS} FROM action_executions WHERE id = $1`, [id]);
  return rows[0];
}

/** Keeps an in-flight call's row fresh; false when the row is no longer `started` by us. */
export async function touchHeartbeat(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query("UPDATE action_executions SET heartbeat_at = now() WHERE id = $1 AND status = 'started'", [id]);
  return rowCount > 0;
}

/**
 * Settles a call we made. `unknown` is overwritten too: a slow call whose heartbeat lapsed was taken
 * for a crash, but its outcome is now known, which beats a person's guess.
 */
export async function settle(
  db: Queryable,
  id: string,
  outcome: { status: "succeeded"; result: unknown } | { status: "failed"; code: string; message: string; retryable: boolean },
): Promise<ExecutionRow | undefined> {
  const succeeded = outcome.status === "succeeded";
  const { rows } = await db.query<ExecutionRow>(
    `UPDATE action_executions SET status = $2, result = $3::jsonb, error_code = $4, error_message = $5, retryable = $6, finished_at = now(), heartbeat_at = now()
     WHERE id = $1 AND status IN ('started', 'unknown') RETURNING ${COLUMNS}`,
    [
      id,
      outcome.status,
      succeeded ? JSON.stringify(outcome.result ?? null) : null,
      succeeded ? null : outcome.code,
      // jsonb and text hold no NUL; an error text from outside may.
      succeeded ? null : outcome.message.split("\u0000").join("").slice(0, 2000),
      succeeded ? false : outcome.retryable,
    ],
  );
  return rows[0];
}

/** A crashed call of an idempotent action, or a retryable failure, or an approved re-run: taken again by one caller. */
export async function reclaim(
  db: Queryable,
  id: string,
  from: "stale" | "retryable" | "approved",
  leaseMs: number,
  actor: string,
): Promise<ExecutionRow | undefined> {
  const where = {
    stale: `status = 'started' AND ${stale("$2")}`,
    retryable: "status = 'failed' AND retryable AND $2::int IS NOT NULL",
    approved: "status = 'unknown' AND resolution = 'retry' AND $2::int IS NOT NULL",
  }[from];
  const { rows } = await db.query<ExecutionRow>(
    `UPDATE action_executions SET status = 'started', attempts = attempts + 1, heartbeat_at = now(), started_at = now(), finished_at = NULL,
       error_code = NULL, error_message = NULL, retryable = false, approval_id = NULL, resolution = NULL, actor = $3
     WHERE id = $1 AND ${where} RETURNING ${COLUMNS}`,
    [id, leaseMs, actor],
  );
  return rows[0];
}

/** A `started` row whose heartbeat stopped: its call was cut off. One caller wins the change. */
export async function markUnknown(db: Queryable, id: string, leaseMs: number): Promise<ExecutionRow | undefined> {
  const { rows } = await db.query<ExecutionRow>(
    `UPDATE action_executions SET status = 'unknown' WHERE id = $1 AND status = 'started' AND ${stale("$2")} RETURNING ${COLUMNS}`,
    [id, leaseMs],
  );
  return rows[0];
}

export async function setApproval(db: Queryable, id: string, approvalId: string): Promise<void> {
  await db.query("UPDATE action_executions SET approval_id = $2 WHERE id = $1 AND status = 'unknown'", [id, approvalId]);
}

/** A person's decision on an `unknown` execution; undefined when it is not (or no longer) unknown. */
export async function resolveUnknown(
  db: Queryable,
  id: string,
  resolution: Resolution,
  by: string,
  reason: string | null,
  result?: unknown,
): Promise<ExecutionRow | undefined> {
  const { rows } = await db.query<ExecutionRow>(
    `UPDATE action_executions SET resolution = $2, resolved_by = $3,
       status = CASE $2 WHEN 'skip' THEN 'failed' WHEN 'succeeded' THEN 'succeeded' ELSE status END,
       error_code = CASE $2 WHEN 'skip' THEN 'ACTION_SKIPPED' ELSE error_code END,
       error_message = CASE $2 WHEN 'skip' THEN coalesce($4, 'not run again by decision of ' || $3) ELSE error_message END,
       result = CASE $2 WHEN 'succeeded' THEN coalesce($5::jsonb, jsonb_build_object('resolved_by', $3::text, 'reason', $4::text)) ELSE result END,
       finished_at = CASE WHEN $2 = 'retry' THEN finished_at ELSE now() END
     WHERE id = $1 AND status = 'unknown' RETURNING ${COLUMNS}`,
    [id, resolution, by, reason, result === undefined ? null : JSON.stringify(result)],
  );
  return rows[0];
}

export interface ExecutionQuery {
  workspace?: string | undefined;
  status?: ExecutionStatus | undefined;
  action?: string | undefined;
  limit?: number | undefined;
  /** Rows that started before this one's start (paging back in time). */
  before?: Date | undefined;
}

export async function listExecutions(db: Queryable, q: ExecutionQuery): Promise<ExecutionRow[]> {
  const { rows } = await db.query<ExecutionRow>(
    `SELECT ${COLUMNS} FROM action_executions
     WHERE ($1::text IS NULL OR workspace_id = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR action = $3)
       AND ($4::timestamptz IS NULL OR started_at < $4)
     ORDER BY started_at DESC, id LIMIT $5`,
    [q.workspace ?? null, q.status ?? null, q.action ?? null, q.before ?? null, Math.min(Math.max(q.limit ?? 100, 1), 1000)],
  );
  return rows;
}

// ---- per-workspace allowlist -----------------------------------------------------------------

export async function selectWorkspaceAllowlist(db: Queryable, workspace: string): Promise<string[] | undefined> {
  const { rows } = await db.query<{ allowed_actions: string[] }>(
    "SELECT allowed_actions FROM workspace_action_policies WHERE workspace_id = $1",
    [workspace],
  );
  return rows[0]?.allowed_actions;
}

export async function upsertWorkspaceAllowlist(db: Queryable, workspace: string, actions: readonly string[], actor: string): Promise<void> {
  await db.query(
    `INSERT INTO workspace_action_policies (workspace_id, allowed_actions, updated_by) VALUES ($1, $2::text[], $3)
     ON CONFLICT (workspace_id) DO UPDATE SET allowed_actions = EXCLUDED.allowed_actions, updated_at = now(), updated_by = EXCLUDED.updated_by`,
    [workspace, actions, actor],
  );
}

export async function deleteWorkspaceAllowlist(db: Queryable, workspace: string): Promise<void> {
  await db.query("DELETE FROM workspace_action_policies WHERE workspace_id = $1", [workspace]);
}

// ---- the actions' audit trail ------------------------------------------------------------------

export interface ActionAuditRow {
  id: number;
  created_at: Date;
  workspace_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  reason: string | null;
  details: Record<string, unknown>;
}

/** The `action.*` rows of action_audit (policy refusals, executions, unknown outcomes, resolutions). */
export async function listActionAudit(
  db: Queryable,
  q: { workspace?: string | undefined; limit?: number | undefined; beforeId?: number | undefined },
): Promise<ActionAuditRow[]> {
  const { rows } = await db.query<ActionAuditRow>(
    `SELECT id, created_at, workspace_id, actor, action, target, reason, details FROM action_audit
     WHERE action LIKE 'action.%' AND ($1::text IS NULL OR workspace_id = $1) AND ($2::bigint IS NULL OR id < $2)
     ORDER BY id DESC LIMIT $3`,
    [q.workspace ?? null, q.beforeId ?? null, Math.min(Math.max(q.limit ?? 100, 1), 1000)],
  );
  return rows;
}
