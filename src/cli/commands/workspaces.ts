import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface SetFlags extends ClientFlags {
  name?: string;
  rateLimit?: string;
  webhookUrl?: string;
  allowedActions?: string;
  reason?: string;
}

/** "default" (or "none" for the webhook) clears a setting back to the server's default: the API's null. */
function orNull(value: string | undefined, clear: string, parse: (v: string) => unknown): unknown {
  if (value === undefined) return undefined;
  return value === clear ? null : parse(value);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--rate-limit expects a whole number above 0 or "default", not ${value}`);
  return n;
}

/** Only the flags given: a PATCH changes nothing it is not told about. */
function patchBody(flags: SetFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: flags.name,
    rate_limit_per_minute: orNull(flags.rateLimit, "default", positiveInt),
    webhook_url: orNull(flags.webhookUrl, "none", (v) => v),
    allowed_actions: orNull(flags.allowedActions, "default", (v) =>
      v
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean),
    ),
    reason: flags.reason,
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

/** `sluice workspaces list|set`: seed 001's per-workspace rate limit without SQL (`PATCH /api/workspaces/{id}`). */
export function registerWorkspaceCommands(program: Command): void {
  const workspaces = program.command("workspaces").description("workspaces: list them, change one's limits");

  withClientOptions(workspaces.command("list"))
    .description("every workspace (operator key) or the key's own")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { json?: boolean }) => {
      const rows = await clientFor(opts).call<Array<Record<string, unknown>>>("GET", "/api/workspaces?limit=1000");
      console.log(opts.json ? JSON.stringify(rows, null, 2) : table(rows, ["id", "name", "rate_limit_per_minute"]));
    });

  withClientOptions(workspaces.command("set <id>"))
    .description("change a workspace's name, rate limit, webhook or action allowlist (operator key; audited with before and after)")
    .option("--name <name>", "display name")
    .option("--rate-limit <perMinute>", 'requests per minute, or "default" for RATE_LIMIT_PER_MINUTE')
    .option("--webhook-url <url>", 'default completion webhook, or "none"')
    .option("--allowed-actions <list>", 'comma-separated action allowlist, or "default" for ALLOW_ACTIONS_DEFAULT')
    .option("--reason <text>", "why (kept in the audit log)")
    .option("--json", "print the workspace as JSON")
    .action(async (id: string, opts: SetFlags & { json?: boolean }) => {
      const body = patchBody(opts);
      if (Object.keys(body).every((k) => k === "reason"))
        throw new Error("nothing to change: give --name, --rate-limit, --webhook-url or --allowed-actions");
      const updated = await clientFor(opts).call<Record<string, unknown>>("PATCH", `/api/workspaces/${encodeURIComponent(id)}`, body);
      console.log(opts.json ? JSON.stringify(updated, null, 2) : table([updated], ["id", "name", "rate_limit_per_minute"]));
    });
}
