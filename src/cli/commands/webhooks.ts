import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface DeliveriesFlags extends ClientFlags {
  workspace?: string;
  status?: string;
  job?: string;
  run?: string;
  limit: string;
  json?: boolean;
}

const COLUMNS = [
  "id",
  "event",
  "subject",
  "target",
  "status",
  "attempts",
  "last_status_code",
  "last_error",
  "next_attempt_at",
  "created_at",
];

function deliveriesQuery(flags: DeliveriesFlags): string {
  const params = new URLSearchParams({ limit: flags.limit });
  for (const key of ["workspace", "status", "job", "run"] as const) {
    const value = flags[key];
    if (value) params.set(key, value);
  }
  return params.toString();
}

/** "A client says it never got the callback": list the deliveries, then redeliver one. */
export function registerWebhookCommands(program: Command): void {
  const webhooks = program
    .command("webhooks")
    .description("completion webhooks: the delivery log, redelivery, the signing secret (admin key)");

  withClientOptions(webhooks.command("deliveries"))
    .description("webhook deliveries, newest first, with status, attempts, last status code and error")
    .option("--workspace <id>", "one workspace (operator keys; an admin key sees its own)")
    .option("--status <status>", "pending, delivered or failed")
    .option("--job <id>", "only the callbacks of this job")
    .option("--run <id>", "only the callbacks of this run")
    .option("--limit <n>", "how many", "50")
    .option("--json", "print JSON")
    .action(async (flags: DeliveriesFlags) => {
      const rows = await clientFor(flags).call<Array<Record<string, unknown>>>("GET", `/api/webhooks/deliveries?${deliveriesQuery(flags)}`);
      console.log(flags.json ? JSON.stringify(rows, null, 2) : table(rows, COLUMNS));
    });

  withClientOptions(webhooks.command("redeliver <id>"))
    .description("send a delivered or failed webhook again: same body and event id, a fresh signature")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (id: string, flags: ClientFlags & { reason?: string }) => {
      const delivery = await clientFor(flags).call<{ id: string; target: string }>(
        "POST",
        `/api/webhooks/deliveries/${encodeURIComponent(id)}/redeliver`,
        flags.reason ? { reason: flags.reason } : {},
      );
      console.log(`Redelivery of ${delivery.id} to ${delivery.target} queued.`);
    });

  withClientOptions(webhooks.command("rotate-secret"))
    .description("a new signing secret for the workspace (printed once); the old one keeps signing during WEBHOOK_SECRET_GRACE_SECONDS")
    .option("--workspace <id>", "the workspace (default: the key's own)")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (flags: ClientFlags & { workspace?: string; reason?: string }) => {
      const body = { ...(flags.workspace ? { workspace: flags.workspace } : {}), ...(flags.reason ? { reason: flags.reason } : {}) };
      const rotated = await clientFor(flags).call<{ secret: string; previous_valid_until: string | null }>(
        "POST",
        "/api/webhooks/secret/rotate",
        body,
      );
      console.log(rotated.secret);
      if (rotated.previous_valid_until) console.error(`The previous secret also signs until ${rotated.previous_valid_until}.`);
    });
}
