import type { Queryable } from "../../ports/store.ts";

/** The statements over `ai_usage_daily` and `workspaces.daily_token_budget` (migrations/0005_accounting.sql). */

export interface UsageDelta {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  workspaceId: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  requests: number;
}

export interface UsageRow {
  day: string;
  workspace_id: string;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  requests: number;
}

/** Adds the deltas to their rows in one statement (rows are created on first use). */
export async function addUsage(db: Queryable, deltas: readonly UsageDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  const params: unknown[] = [];
  const tuples = deltas.map((d) => {
    const at = params.length;
    params.push(d.day, d.workspaceId, d.provider, d.model, d.inputTokens, d.outputTokens, d.costUsd.toFixed(8), d.requests);
    return `($${at + 1}::date, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}::bigint, $${at + 6}::bigint, $${at + 7}::numeric, $${at + 8}::bigint)`;
  });
  await db.query(
    `INSERT INTO ai_usage_daily (day, workspace_id, provider, model, input_tokens, output_tokens, cost_usd, requests)
     VALUES ${tuples.join(", ")}
     ON CONFLICT (day, workspace_id, provider, model) DO UPDATE SET
       input_tokens = ai_usage_daily.input_tokens + EXCLUDED.input_tokens,
       output_tokens = ai_usage_daily.output_tokens + EXCLUDED.output_tokens,
       cost_usd = ai_usage_daily.cost_usd + EXCLUDED.cost_usd,
       requests = ai_usage_daily.requests + EXCLUDED.requests,
       updated_at = now()`,
    params,
  );
}

/** Rows from `fromDay` (inclusive), newest first; one workspace or all. */
export async function selectUsage(db: Queryable, query: { fromDay: string; workspaceId?: string | undefined }): Promise<UsageRow[]> {
  const { rows } = await db.query<UsageRow>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, workspace_id, provider, model, input_tokens, output_tokens, cost_usd, requests
     FROM ai_usage_daily
     WHERE day >= $1::date AND ($2::text IS NULL OR workspace_id = $2)
     ORDER BY day DESC, workspace_id, provider, model
     LIMIT 10000`,
    [query.fromDay, query.workspaceId ?? null],
  );
  return rows;
}

export interface BudgetRow {
  /** Whether the workspace exists. */
  known: boolean;
  budget: number | null;
  spent: number;
}

/** A workspace's own budget (NULL: the default) and the tokens it spent on `day`. */
export async function selectBudget(db: Queryable, workspaceId: string, day: string): Promise<BudgetRow> {
  const { rows } = await db.query<{ known: boolean; budget: number | null; spent: number }>(
    `SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1) AS known,
            (SELECT daily_token_budget FROM workspaces WHERE id = $1) AS budget,
            (SELECT coalesce(sum(input_tokens + output_tokens), 0) FROM ai_usage_daily WHERE workspace_id = $1 AND day = $2::date) AS spent`,
    [workspaceId, day],
  );
  const row = rows[0];
  return { known: row?.known ?? false, budget: row?.budget ?? null, spent: Number(row?.spent ?? 0) };
}

/** Sets (or with null, clears) a workspace's daily token budget; false when there is no such workspace. */
export async function updateBudget(db: Queryable, workspaceId: string, budget: number | null): Promise<boolean> {
  const { rows } = await db.query<{ id: string }>("UPDATE workspaces SET daily_token_budget = $2 WHERE id = $1 RETURNING id", [
    workspaceId,
    budget,
  ]);
  return rows.length > 0;
}

/** Every workspace with its own budget, and what each spent on `day`. */
export async function selectBudgets(
  db: Queryable,
  day: string,
  workspaceId?: string,
): Promise<Array<{ workspace_id: string; budget: number | null; spent: number }>> {
  const { rows } = await db.query<{ workspace_id: string; budget: number | null; spent: number }>(
    `SELECT w.id AS workspace_id, w.daily_token_budget AS budget,
            coalesce((SELECT sum(u.input_tokens + u.output_tokens) FROM ai_usage_daily u WHERE u.workspace_id = w.id AND u.day = $1::date), 0) AS spent
     FROM workspaces w WHERE ($2::text IS NULL OR w.id = $2) ORDER BY w.id LIMIT 10000`,
    [day, workspaceId ?? null],
  );
  return rows.map((r) => ({ ...r, spent: Number(r.spent) }));
}
