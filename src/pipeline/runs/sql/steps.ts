import type { Queryable } from "../../../ports/store.ts";
import type { StepError, WaitOutcome } from "../contracts.ts";
import type { StepKind, StepRow, StepStatus } from "../types.ts";

/** `pipeline_steps`: a run's memo. A completed row is the step's outcome forever (until a replay deletes it). */

const COLUMNS = "run_id, name, position, kind, status, attempts, result, error, wake_at, wait_event, wait_match, started_at, finished_at";

export async function listSteps(db: Queryable, runId: string): Promise<StepRow[]> {
  const { rows } = await db.query<StepRow>(`SELECT ${COLUMNS} FROM pipeline_steps WHERE run_id = $1 ORDER BY position, started_at`, [
    runId,
  ]);
  return rows;
}

export interface StepWrite {
  runId: string;
  name: string;
  position: number;
  kind: StepKind;
  status: StepStatus;
  attempts: number;
  result?: unknown;
  error?: StepError | null;
  wakeAt?: Date | null;
  waitEvent?: string | null;
  waitMatch?: Record<string, unknown> | null;
  /** When the step was first reached, if not now (a wait's: the events it sees are dated from it). Kept by later writes. */
  startedAt?: Date | undefined;
}

const SETTLED: readonly StepStatus[] = ["completed", "failed"];

/**
 * A step a dead worker may have left mid-way: a try still `running`, or an action step waiting on a
 * person about a call whose outcome is unknown (its ledger, not the run's job, decides what comes next).
 */
export const MIDWAY_STEP = `status = 'running' OR (kind = 'action' AND status = 'waiting')`;

/** The first step of the run left mid-way (see MIDWAY_STEP), if any. */
export async function stepLeftMidway(db: Queryable, runId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT name FROM pipeline_steps WHERE run_id = $1 AND (${MIDWAY_STEP}) ORDER BY position LIMIT 1`,
    [runId],
  );
  return rows[0]?.name;
}

/** Writes the step's row, whether it is new or a later try of an unfinished one; never overwrites a completed row. */
export async function writeStep(db: Queryable, step: StepWrite): Promise<void> {
  const finished = SETTLED.includes(step.status);
  await db.query(
    `INSERT INTO pipeline_steps (run_id, name, position, kind, status, attempts, result, error, wake_at, wait_event, wait_match, finished_at, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11::jsonb, CASE WHEN $12 THEN now() END, COALESCE($13, now()))
     ON CONFLICT (run_id, name) DO UPDATE SET status = EXCLUDED.status, attempts = EXCLUDED.attempts, result = EXCLUDED.result,
       error = EXCLUDED.error, wake_at = EXCLUDED.wake_at, wait_event = EXCLUDED.wait_event, wait_match = EXCLUDED.wait_match,
       finished_at = EXCLUDED.finished_at
     WHERE pipeline_steps.status <> 'completed'`,
    [
      step.runId,
      step.name,
      step.position,
      step.kind,
      step.status,
      step.attempts,
      step.result === undefined ? null : JSON.stringify(step.result),
      step.error ? JSON.stringify(step.error) : null,
      step.wakeAt ?? null,
      step.waitEvent ?? null,
      step.waitMatch ? JSON.stringify(step.waitMatch) : null,
      finished,
      step.startedAt ?? null,
    ],
  );
}

/** Settles a waiting step once; true when this call did (idempotent per run and step). */
export async function settleWaiting(db: Queryable, runId: string, name: string, outcome: WaitOutcome): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE pipeline_steps SET status = $3, result = $4::jsonb, error = $5::jsonb, wake_at = NULL, finished_at = now()
     WHERE run_id = $1 AND name = $2 AND status = 'waiting' AND kind <> 'action'`,
    outcome.ok
      ? [runId, name, "completed", JSON.stringify(outcome.result ?? null), null]
      : [runId, name, "failed", null, JSON.stringify(outcome.error)],
  );
  return rowCount > 0;
}

/**
 * An action step waits on a person's decision about an unknown outcome; the decision lives in the
 * action ledger, so the step is not settled from outside but run again (same key). True when the
 * step is such a waiting action step.
 */
export async function isWaitingAction(db: Queryable, runId: string, name: string): Promise<boolean> {
  const { rows } = await db.query(
    "SELECT 1 FROM pipeline_steps WHERE run_id = $1 AND name = $2 AND status = 'waiting' AND kind = 'action'",
    [runId, name],
  );
  return rows.length > 0;
}

export interface WaitingForEvent {
  run_id: string;
  name: string;
  wait_match: Record<string, unknown> | null;
}

/** Steps of the workspace's unsettled runs waiting for an event of this name. */
export async function stepsWaitingFor(db: Queryable, workspace: string, event: string): Promise<WaitingForEvent[]> {
  const { rows } = await db.query<WaitingForEvent>(
    `SELECT s.run_id, s.name, s.wait_match FROM pipeline_steps s JOIN pipeline_runs r ON r.id = s.run_id
     WHERE s.status = 'waiting' AND s.wait_event = $2 AND r.workspace = $1 AND r.status NOT IN ('completed', 'failed', 'cancelled')
     ORDER BY s.started_at LIMIT 10000`,
    [workspace, event],
  );
  return rows;
}

/** Deletes the step at `position` and every later one, so a replay runs them again. */
export async function deleteStepsFrom(db: Queryable, runId: string, position: number): Promise<number> {
  const { rowCount } = await db.query("DELETE FROM pipeline_steps WHERE run_id = $1 AND position >= $2", [runId, position]);
  return rowCount;
}

/**
 * Marks a try of the step as running, in the same statement as the check that its run is not
 * cancelled (one round trip less per step); false when the run is cancelled.
 */
export async function startStep(
  db: Queryable,
  step: Pick<StepWrite, "runId" | "name" | "position" | "kind" | "attempts">,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO pipeline_steps (run_id, name, position, kind, status, attempts)
     SELECT $1, $2, $3, $4, 'running', $5 WHERE EXISTS (SELECT 1 FROM pipeline_runs WHERE id = $1 AND status <> 'cancelled')
     ON CONFLICT (run_id, name) DO UPDATE SET status = 'running', attempts = EXCLUDED.attempts, wake_at = NULL, finished_at = NULL
     WHERE pipeline_steps.status <> 'completed'`,
    [step.runId, step.name, step.position, step.kind, step.attempts],
  );
  return rowCount > 0;
}
