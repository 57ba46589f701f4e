import { isSluiceError, RetryLaterError, SluiceError } from "../../core/errors.ts";
import type { Queryable } from "../../ports/store.ts";
import type { AuditEntry } from "../audit/audit-log.ts";
import { msUntilUtcMidnight, utcDay, type Accounting } from "./accounting.ts";
import { selectBudget, selectBudgets, updateBudget } from "./sql.ts";

/**
 * Daily token budgets per workspace (input + output tokens per UTC day). A workspace that has
 * spent its budget gets `BUDGET_EXHAUSTED` (429, `Retry-After` until UTC midnight) at intake, and
 * its queued jobs wait until the reset instead of failing. The check runs before a job starts: a
 * job already running finishes, so a budget can be overshot by the jobs in flight.
 */

interface BudgetStatus {
  workspace_id: string;
  /** 0 = unlimited. */
  daily_token_budget: number;
  /** `workspace` when the workspace sets its own, else `default` (WORKSPACE_DAILY_TOKEN_BUDGET). */
  budget_source: "workspace" | "default";
  spent_today: number;
  /** null when unlimited. */
  remaining: number | null;
  exhausted: boolean;
  resets_at: string;
}

export interface BudgetsOptions {
  store: Queryable;
  accounting: Pick<Accounting, "pendingTokens">;
  audit: { record(entry: AuditEntry): Promise<number> };
  /** Budget of a workspace that sets none; 0 = unlimited. @default 0 */
  defaultDailyTokens?: number;
  /** How long a workspace's status is trusted. @default 2000 */
  cacheMs?: number;
  /** Spread added to the wait of deferred jobs so they don't all wake at midnight. @default 60000 */
  maxJitterMs?: number;
  /** @default Date.now */
  now?: () => number;
  /** @default Math.random */
  random?: () => number;
}

export interface Budgets {
  /**
   * Throws BUDGET_EXHAUSTED when the workspace has spent today's budget; its `retryAfterMs` is the
   * time to the UTC-midnight reset (plus jitter), or `maxWaitMs` when that is shorter (queued jobs
   * look again that often, so a raised budget frees them before midnight).
   */
  assertWithinBudget(workspaceId: string, options?: { maxWaitMs?: number }): Promise<void>;
  status(workspaceId: string): Promise<BudgetStatus>;
  /** Every workspace's status (or one's). */
  list(workspaceId?: string): Promise<BudgetStatus[]>;
  /** Sets a workspace's own budget (null: back to the default), audited. */
  set(
    workspaceId: string,
    dailyTokens: number | null,
    change: { actor: string; reason?: string | undefined; workspaceId?: string | undefined },
  ): Promise<BudgetStatus>;
}

export function createBudgets(options: BudgetsOptions): Budgets {
  const { store, accounting } = options;
  const fallback = options.defaultDailyTokens ?? 0;
  const cacheMs = options.cacheMs ?? 2_000;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const cached = new Map<string, { at: number; status: BudgetStatus }>();

  function toStatus(workspaceId: string, own: number | null, spentStored: number, at: number): BudgetStatus {
    const budget = own ?? fallback;
    const spent = spentStored + accounting.pendingTokens(workspaceId, utcDay(at));
    return {
      workspace_id: workspaceId,
      daily_token_budget: budget,
      budget_source: own === null ? "default" : "workspace",
      spent_today: spent,
      remaining: budget > 0 ? Math.max(0, budget - spent) : null,
      exhausted: budget > 0 && spent >= budget,
      resets_at: new Date(at + msUntilUtcMidnight(at)).toISOString(),
    };
  }

  async function fresh(workspaceId: string): Promise<BudgetStatus> {
    const at = now();
    const row = await selectBudget(store, workspaceId, utcDay(at));
    const status = toStatus(workspaceId, row.budget, row.spent, at);
    cached.set(workspaceId, { at, status });
    return status;
  }

  async function status(workspaceId: string): Promise<BudgetStatus> {
    const hit = cached.get(workspaceId);
    if (hit && now() - hit.at < cacheMs && utcDay(hit.at) === utcDay(now())) return hit.status;
    return fresh(workspaceId);
  }

  /**
   * The status for a job's check. While the database is unavailable, today's last known status
   * stands (trusted for another `cacheMs` each time) rather than holding back every job: a budget
   * is a spending brake, not a quota. With none known, the DEPENDENCY_UNAVAILABLE error goes on.
   */
  async function statusForCheck(workspaceId: string): Promise<BudgetStatus> {
    try {
      return await status(workspaceId);
    } catch (err) {
      const last = cached.get(workspaceId);
      if (!last || utcDay(last.at) !== utcDay(now()) || !isSluiceError(err) || err.code !== "DEPENDENCY_UNAVAILABLE") throw err;
      last.at = now();
      return last.status;
    }
  }

  return {
    async assertWithinBudget(workspaceId, assertOptions = {}) {
      const s = await statusForCheck(workspaceId);
      if (!s.exhausted) return;
      const untilReset = msUntilUtcMidnight(now()) + Math.floor(random() * (options.maxJitterMs ?? 60_000));
      const wait = Math.min(untilReset, assertOptions.maxWaitMs ?? Infinity);
      throw new RetryLaterError(
        "BUDGET_EXHAUSTED",
        wait,
        `Workspace "${workspaceId}" has spent its daily budget of ${s.daily_token_budget} tokens; it resets at ${s.resets_at}`,
        {
          details: { workspace: workspaceId, daily_token_budget: s.daily_token_budget, spent_today: s.spent_today, resets_at: s.resets_at },
        },
      );
    },
    status,
    async list(workspaceId) {
      const at = now();
      const rows = await selectBudgets(store, utcDay(at), workspaceId);
      return rows.map((r) => toStatus(r.workspace_id, r.budget, r.spent, at));
    },
    async set(workspaceId, dailyTokens, change) {
      if (dailyTokens !== null && (!Number.isInteger(dailyTokens) || dailyTokens < 0))
        throw new SluiceError("VALIDATION_FAILED", "daily_token_budget is a whole number of tokens, 0 (unlimited) or null (the default)");
      const previous = await fresh(workspaceId);
      if (!(await updateBudget(store, workspaceId, dailyTokens))) throw new SluiceError("NOT_FOUND", `No workspace "${workspaceId}"`);
      await options.audit.record({
        actor: change.actor,
        action: "budget.set",
        workspaceId: change.workspaceId ?? workspaceId,
        target: workspaceId,
        reason: change.reason ?? null,
        details: { previous: previous.budget_source === "workspace" ? previous.daily_token_budget : null, daily_token_budget: dailyTokens },
      });
      return fresh(workspaceId);
    },
  };
}
