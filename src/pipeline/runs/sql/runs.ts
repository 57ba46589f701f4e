import type { Queryable } from "../../../ports/store.ts";
import type { StepError } from "../contracts.ts";
import type { RunRow, RunStatus } from "../types.ts";
import { MIDWAY_STEP } from "./steps.ts";

/** `pipeline_runs`: one row per run. Settled runs (completed, failed, cancelled) never change again except by replay. */

const COLUMNS = `id, pipeline, workspace, entity_key, tags, status, input, output, error, failed_step, client_request_id,
  created_at, updated_at, started_at, finished_at, callback_url`;
const UNSETTLED = `status NOT IN ('completed', 'failed', 'cancelled')`;

export interface NewRun {
  id: string;
  pipeline: string;
  workspace: string;
  entityKey: string | null;
  tags: readonly string[];
  input: unknown;
  clientRequestId: string | null;
  callbackUrl: string | null;
}

/** Inserts the run, or returns undefined when its client_request_id already names one. */
export async function insertRun(db: Queryable, run: NewRun): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `INSERT INTO pipeline_runs (id, pipeline, workspace, entity_key, tags, input, client_request_id, callback_url)
     VALUES ($1, $2, $3, $4, $5::text[], $6::jsonb, $7, $8)
     ON CONFLICT (workspace, pipeline, client_request_id) WHERE client_request_id IS NOT NULL DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      run.id,
      run.pipeline,
      run.workspace,
      run.entityKey,
      [...run.tags],
      JSON.stringify(run.input ?? null),
      run.clientRequestId,
      run.callbackUrl,
    ],
  );
  return rows[0];
}

export async function findRunByRequest(
  db: Queryable,
  workspace: string,
  pipeline: string,
  clientRequestId: string,
): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${COLUMNS} FROM pipeline_runs WHERE workspace = $1 AND pipeline = $2 AND client_request_id = $3`,
    [workspace, pipeline, clientRequestId],
  );
  return rows[0];
}

/** The run; with `workspace`, only if it belongs to it. */
export async function findRun(db: Queryable, id: string, workspace?: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT ${COLUMNS} FROM pipeline_runs WHERE id = $1 AND ($2::text IS NULL OR workspace = $2)`, [
    id,
    workspace ?? null,
  ]);
  return rows[0];
}

export interface RunFilter {
  workspace?: string | undefined;
  pipeline?: string | undefined;
  status?: RunStatus | undefined;
  tag?: string | undefined;
  entityKey?: string | undefined;
  /** Runs created before this one (paging newest first). */
  beforeId?: string | undefined;
  limit: number;
}

export async function listRuns(db: Queryable, filter: RunFilter): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${COLUMNS} FROM pipeline_runs
     WHERE ($1::text IS NULL OR workspace = $1) AND ($2::text IS NULL OR pipeline = $2) AND ($3::text IS NULL OR status = $3)
       AND ($4::text IS NULL OR $4 = ANY (tags)) AND ($5::text IS NULL OR entity_key = $5)
       AND ($6::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM pipeline_runs WHERE id = $6))
     ORDER BY created_at DESC, id DESC LIMIT $7`,
    [
      filter.workspace ?? null,
      filter.pipeline ?? null,
      filter.status ?? null,
      filter.tag ?? null,
      filter.entityKey ?? null,
      filter.beforeId ?? null,
      filter.limit,
    ],
  );
  return rows;
}

/**
 * Takes the run for one invocation by queue job `owner`: free, expired, or already this job's (the
 * same job re-run after its worker died). Undefined when it is settled or another job holds it.
 */
export async function claimRun(db: Queryable, id: string, owner: string, leaseMs: number): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `UPDATE pipeline_runs SET status = 'running', lease_owner = $2, lease_until = now() + ($3::bigint * interval '1 millisecond'),
       started_at = COALESCE(started_at, now()), updated_at = now()
     WHERE id = $1 AND ${UNSETTLED} AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())
     RETURNING ${COLUMNS}`,
    [id, owner, leaseMs],
  );
  return rows[0];
}

/** Extends the lease of a live invocation; false when it is no longer this owner's (settled, cancelled, or taken over). */
export async function renewRunLease(db: Queryable, id: string, owner: string, leaseMs: number): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE pipeline_runs SET lease_until = now() + ($3::bigint * interval '1 millisecond')
     WHERE id = $1 AND lease_owner = $2 AND ${UNSETTLED} RETURNING id`,
    [id, owner, leaseMs],
  );
  return rows.length > 0;
}

/** Ends an invocation that suspended: the run waits or sleeps, holding no worker. */
export async function releaseRun(db: Queryable, id: string, owner: string, status: "waiting" | "sleeping" | "queued"): Promise<void> {
  await db.query(
    `UPDATE pipeline_runs SET status = $3, lease_owner = NULL, lease_until = NULL, updated_at = now() WHERE id = $1 AND lease_owner = $2 AND ${UNSETTLED}`,
    [id, owner, status],
  );
}

/** Settles the run; undefined when it was settled meanwhile (cancelled) or is not this owner's. */
export async function finishRun(
  db: Queryable,
  id: string,
  owner: string,
  outcome: { status: "completed"; output: unknown } | { status: "failed"; error: StepError; failedStep: string | null },
): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `UPDATE pipeline_runs SET status = $3, output = $4::jsonb, error = $5::jsonb, failed_step = $6, lease_owner = NULL, lease_until = NULL,
       finished_at = now(), updated_at = now()
     WHERE id = $1 AND lease_owner = $2 AND ${UNSETTLED} RETURNING ${COLUMNS}`,
    outcome.status === "completed"
      ? [id, owner, "completed", JSON.stringify(outcome.output ?? null), null, null]
      : [id, owner, "failed", null, JSON.stringify(outcome.error), outcome.failedStep],
  );
  return rows[0];
}

/** Cancels unsettled runs by id or by tag within a workspace (null: any workspace); returns those cancelled. */
export async function cancelRuns(
  db: Queryable,
  target: { id?: string; tag?: string; workspace: string | null },
  reason: string | null,
): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `UPDATE pipeline_runs SET status = 'cancelled', error = $4::jsonb, lease_owner = NULL, lease_until = NULL, finished_at = now(), updated_at = now()
     WHERE ($1::text IS NULL OR id = $1) AND ($2::text IS NULL OR $2 = ANY (tags)) AND ($3::text IS NULL OR workspace = $3) AND ${UNSETTLED}
     RETURNING ${COLUMNS}`,
    [
      target.id ?? null,
      target.tag ?? null,
      target.workspace,
      JSON.stringify({ code: "RUN_CANCELLED", message: reason ?? "Cancelled by an operator" }),
    ],
  );
  return rows;
}

/** Puts a settled run back to `queued` for a replay (its steps from the chosen one are deleted by the caller). */
export async function requeueRun(db: Queryable, id: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `UPDATE pipeline_runs SET status = 'queued', output = NULL, error = NULL, failed_step = NULL, lease_owner = NULL, lease_until = NULL,
       finished_at = NULL, updated_at = now()
     WHERE id = $1 AND status IN ('completed', 'failed', 'cancelled') RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0];
}

/** The entity's newest run of the pipeline. */
export async function latestEntityRun(db: Queryable, workspace: string, pipeline: string, entityKey: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${COLUMNS} FROM pipeline_runs WHERE workspace = $1 AND pipeline = $2 AND entity_key = $3 ORDER BY created_at DESC, id DESC LIMIT 1`,
    [workspace, pipeline, entityKey],
  );
  return rows[0];
}

/**
 * Lets go of a run whose queue job stalled out (its workers died in it), so a fresh job can take it:
 * only if that job holds it, or nobody live does (no lease, or an expired one). A run left `running`
 * goes back to `queued`. Undefined when it is settled or another job's live lease holds it.
 */
export async function releaseStalledRun(db: Queryable, id: string, owner: string): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `UPDATE pipeline_runs SET status = CASE WHEN status = 'running' THEN 'queued' ELSE status END, lease_owner = NULL, lease_until = NULL,
       updated_at = now()
     WHERE id = $1 AND ${UNSETTLED} AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())
     RETURNING ${COLUMNS}`,
    [id, owner],
  );
  return rows[0];
}

/**
 * Fails a running run whose re-driven job stalled out too, with `error` and no failed step: only
 * while that job holds it (or its lease expired) and no step is left mid-way (a step's own retry
 * policy, or an action's ledger, bounds those). Undefined when nothing was failed.
 */
export async function failStalledRun(db: Queryable, id: string, owner: string, error: StepError): Promise<RunRow | undefined> {
  const { rows } = await db.query<RunRow>(
    `UPDATE pipeline_runs SET status = 'failed', output = NULL, error = $3::jsonb, failed_step = NULL, lease_owner = NULL, lease_until = NULL,
       finished_at = now(), updated_at = now()
     WHERE id = $1 AND status = 'running' AND (lease_owner = $2 OR lease_until < now())
       AND NOT EXISTS (SELECT 1 FROM pipeline_steps WHERE run_id = $1 AND (${MIDWAY_STEP}))
     RETURNING ${COLUMNS}`,
    [id, owner, JSON.stringify(error)],
  );
  return rows[0];
}
