import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface ActionsListing {
  workspace: string;
  enabled: boolean;
  allowed_actions: string[];
  allowed_actions_source: string;
  require_approval: string[];
  actions: Array<Record<string, unknown>>;
}

const query = (params: Record<string, string | undefined>): string => {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries).toString()}` : "";
};

/** `sluice actions list|executions|resolve|allow`: the registry, the ledger and the allowlist. */
export function registerActionCommands(program: Command): void {
  const actions = program
    .command("actions")
    .description(
      "side-effecting actions: registry and policy, the execution ledger, allowlists (kill switch: `sluice flags set actions.enabled false`)",
    );

  withClientOptions(actions.command("list"))
    .description("registered actions and whether the key's workspace may run them now")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { json?: boolean }) => {
      const body = await clientFor(opts).call<ActionsListing>("GET", "/api/actions");
      if (opts.json) return console.log(JSON.stringify(body, null, 2));
      console.log(
        `workspace ${body.workspace}: actions ${body.enabled ? "ENABLED" : "DISABLED (flag actions.enabled)"}; allowlist (${body.allowed_actions_source}): ${body.allowed_actions.join(",") || "(empty)"}`,
      );
      console.log(table(body.actions, ["name", "allowed", "refusal", "requires_approval", "idempotent", "description"]));
    });

  withClientOptions(actions.command("executions"))
    .description("the action ledger, newest first: one row per idempotency key (started, succeeded, failed, unknown)")
    .option("--status <status>", "started, succeeded, failed or unknown")
    .option("--action <name>", "only this action")
    .option("--workspace <id>", "another workspace (operator keys)")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { status?: string; action?: string; workspace?: string; limit: string; json?: boolean }) => {
      const path = `/api/actions/executions${query({ status: opts.status, action: opts.action, workspace: opts.workspace, limit: opts.limit })}`;
      const body = await clientFor(opts).call<{ executions: Array<Record<string, unknown>> }>("GET", path);
      if (opts.json) return console.log(JSON.stringify(body.executions, null, 2));
      const rows = body.executions.map((e) => ({ ...e, error: (e.error as { code?: string } | null)?.code ?? "" }));
      console.log(table(rows, ["id", "action", "idempotency_key", "status", "attempts", "error", "approval_id", "started_at"]));
    });

  withClientOptions(actions.command("resolve <execution-id>"))
    .description("decide an execution whose outcome is unknown (a crash mid-call): retry, skip or succeeded")
    .requiredOption("--resolution <r>", "retry (run once more at its next call), skip (never run: failed), succeeded (it did take effect)")
    .requiredOption("--reason <text>", "why (kept in the audit log)")
    .action(async (id: string, opts: ClientFlags & { resolution: string; reason: string }) => {
      const row = await clientFor(opts).call<Record<string, unknown>>("POST", `/api/actions/executions/${encodeURIComponent(id)}/resolve`, {
        resolution: opts.resolution,
        reason: opts.reason,
      });
      console.log(table([row], ["id", "action", "status", "resolution", "resolved_by"]));
    });

  withClientOptions(actions.command("allow <workspace> [actions]"))
    .description(
      "set a workspace's own allowlist (comma-separated names, * for all); --default goes back to ALLOW_ACTIONS_DEFAULT (operator keys)",
    )
    .option("--default", "remove the workspace's own list")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (workspace: string, list: string | undefined, opts: ClientFlags & { default?: boolean; reason?: string }) => {
      const allowed = opts.default
        ? null
        : (list ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean);
      const body = await clientFor(opts).call<{ id: string; allowed_actions: string[]; allowed_actions_source: string }>(
        "PATCH",
        `/api/workspaces/${encodeURIComponent(workspace)}`,
        {
          allowed_actions: allowed,
          ...(opts.reason ? { reason: opts.reason } : {}),
        },
      );
      console.log(`workspace ${body.id}: allowlist (${body.allowed_actions_source}): ${body.allowed_actions.join(",") || "(empty)"}`);
    });
}
