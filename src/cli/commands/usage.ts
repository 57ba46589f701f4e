import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface UsageBody {
  from: string;
  to: string;
  rows: Array<Record<string, unknown>>;
  totals: Record<string, number>;
  budgets: Array<Record<string, unknown>>;
}

/** `sluice usage [budget]`: tokens and cost per day, workspace, provider and model; daily budgets. */
export function registerUsageCommands(program: Command): void {
  const usage = withClientOptions(program.command("usage"))
    .description("tokens and cost per UTC day, workspace, provider and model")
    .option("--workspace <id>", "one workspace")
    .option("--days <n>", "days back, today included", "7")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { workspace?: string; days: string; json?: boolean }) => {
      const query = new URLSearchParams({ days: opts.days, ...(opts.workspace ? { workspace: opts.workspace } : {}) });
      const body = await clientFor(opts).call<UsageBody>("GET", `/api/usage?${query.toString()}`);
      if (opts.json) return console.log(JSON.stringify(body, null, 2));
      console.log(`Usage ${body.from} .. ${body.to} (UTC)`);
      console.log(table(body.rows, ["day", "workspace_id", "provider", "model", "input_tokens", "output_tokens", "cost_usd", "requests"]));
      console.log(
        `Total: ${body.totals.input_tokens} input + ${body.totals.output_tokens} output tokens, ${body.totals.requests} calls, $${body.totals.cost_usd}`,
      );
      const limited = body.budgets.filter((b) => Number(b.daily_token_budget) > 0);
      if (limited.length > 0)
        console.log(
          `\nBudgets today:\n${table(limited, ["workspace_id", "daily_token_budget", "spent_today", "remaining", "exhausted", "resets_at"])}`,
        );
    });

  withClientOptions(usage.command("budget <workspace> <tokens>"))
    .description("set a workspace's daily token budget: a number, 0 = unlimited, 'default' = WORKSPACE_DAILY_TOKEN_BUDGET")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (workspace: string, tokens: string, opts: ClientFlags & { reason?: string }) => {
      const value = tokens === "default" ? null : Number(tokens);
      if (value !== null && !Number.isInteger(value)) throw new Error(`tokens must be a whole number or "default", got ${tokens}`);
      const status = await clientFor(opts).call<Record<string, unknown>>("PUT", `/api/usage/budgets/${encodeURIComponent(workspace)}`, {
        daily_token_budget: value,
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      console.log(table([status], ["workspace_id", "daily_token_budget", "budget_source", "spent_today", "remaining", "resets_at"]));
    });
}
