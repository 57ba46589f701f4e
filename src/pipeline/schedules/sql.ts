import type { Queryable } from "../../ports/store.ts";

/** The statements over `schedules`, `schedule_runs` and the `cron_job_status` view (migrations/0008). */

export type TargetKind = "task" | "pipeline";

export interface ScheduleRow {
  name: string;
  cron: string;
  tz: string;
  target_kind: TargetKind;
  target_name: string;
  input: unknown;
  workspace_id: string;
  source: "api" | "code";
  next_run_at: Date | null;
  created_at: Date;
  updated_at: Date;
  updated_by: string;
}

/** A schedule with its latest firing, as `cron_job_status` shows it. */
export interface ScheduleStatusRow extends ScheduleRow {
  last_run_at: Date | null;
  status: string;
  last_error: string | null;
  last_success_at: Date | null;
}

const COLUMNS =
  "s.name, s.cron, s.tz, s.target_kind, s.target_name, s.input, s.workspace_id, s.source, s.next_run_at, s.created_at, s.updated_at, s.updated_by";
const WITH_STATUS = `SELECT ${COLUMNS}, c.last_run_at, c.status, c.last_error, c.last_success_at
  FROM schedules s JOIN cron_job_status c ON c.job_name = s.name`;

export interface ScheduleInput {
  name: string;
  cron: string;
  tz: string;
  targetKind: TargetKind;
  targetName: string;
  input: unknown;
  workspaceId: string;
  source: "api" | "code";
  nextRunAt: Date | null;
}

export async function upsertSchedule(db: Queryable, s: ScheduleInput, actor: string): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    `INSERT INTO schedules AS s (name, cron, tz, target_kind, target_name, input, workspace_id, source, next_run_at, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)
     ON CONFLICT (name) DO UPDATE SET cron = EXCLUDED.cron, tz = EXCLUDED.tz, target_kind = EXCLUDED.target_kind, target_name = EXCLUDED.target_name,
       input = EXCLUDED.input, workspace_id = EXCLUDED.workspace_id, source = EXCLUDED.source, next_run_at = EXCLUDED.next_run_at,
       updated_at = now(), updated_by = EXCLUDED.updated_by
     RETURNING ${COLUMNS}`,
    [s.name, s.cron, s.tz, s.targetKind, s.targetName, JSON.stringify(s.input ?? {}), s.workspaceId, s.source, s.nextRunAt, actor],
  );
  const row = rows[0];
  if (!row) throw new Error(`upsert of schedule ${s.name} returned no row`);
  return row;
}

export async function selectSchedule(db: Queryable, name: string): Promise<ScheduleStatusRow | undefined> {
  const { rows } = await db.query<ScheduleStatusRow>(`${WITH_STATUS} WHERE s.name = $1`, [name]);
  return rows[0];
}

export async function selectSchedules(db: Queryable, workspaceId?: string): Promise<ScheduleStatusRow[]> {
  const { rows } = await db.query<ScheduleStatusRow>(
    `${WITH_STATUS} WHERE ($1::text IS NULL OR s.workspace_id = $1) ORDER BY s.next_run_at NULLS LAST, s.name`,
    [workspaceId ?? null],
  );
  return rows;
}

export async function selectAllScheduleNames(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>("SELECT name FROM schedules ORDER BY name");
  return rows.map((r) => r.name);
}

export async function deleteSchedule(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM schedules WHERE name = $1", [name]);
  return rowCount > 0;
}

export async function setNextRun(db: Queryable, name: string, next: Date | null): Promise<void> {
  await db.query("UPDATE schedules SET next_run_at = $2 WHERE name = $1", [name, next]);
}

/** Records a firing; a second worker handed the same firing (a retry, a stall) gets undefined. */
export async function insertRun(db: Queryable, scheduleName: string, firedFor: Date): Promise<number | undefined> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO schedule_runs (schedule_name, fired_for, status) VALUES ($1, $2, 'running')
     ON CONFLICT (schedule_name, fired_for) DO UPDATE SET status = 'running', started_at = now(), error = NULL
       WHERE schedule_runs.status = 'failed'
     RETURNING id`,
    [scheduleName, firedFor],
  );
  return rows[0]?.id;
}

export async function finishRun(
  db: Queryable,
  id: number,
  outcome: { status: "succeeded" | "failed"; jobId?: string | null; runId?: string | null; error?: string | null },
): Promise<void> {
  await db.query("UPDATE schedule_runs SET status = $2, finished_at = now(), job_id = $3, run_id = $4, error = $5 WHERE id = $1", [
    id,
    outcome.status,
    outcome.jobId ?? null,
    outcome.runId ?? null,
    outcome.error ?? null,
  ]);
}

/** Each schedule's last success (its creation until it first succeeds), for `sluice_schedule_last_success_timestamp_seconds`. */
export async function selectLastSuccess(db: Queryable): Promise<Array<{ name: string; at: Date }>> {
  const { rows } = await db.query<{ name: string; at: Date }>(
    "SELECT s.name, COALESCE(c.last_success_at, s.created_at) AS at FROM schedules s JOIN cron_job_status c ON c.job_name = s.name",
  );
  return rows;
}
