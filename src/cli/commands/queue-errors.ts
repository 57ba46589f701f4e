import type { Command } from "commander";
import type { AttemptErrorRow } from "../../pipeline/ops/queue-errors.ts";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

/**
 * `sluice queues` declares --url, --api-key and --json too, and commander gives a flag written after
 * `errors` to whichever declared it first: take the parent's where the command line set it there.
 */
function withParentFlags<T extends ClientFlags & { json?: boolean }>(parent: Command, own: T): T {
  const merged = { ...own };
  for (const key of ["url", "apiKey", "json"] as const) {
    if (parent.getOptionValueSource(key) === "cli") Object.assign(merged, { [key]: parent.getOptionValue(key) as unknown });
  }
  return merged;
}

/** `sluice queues errors <queue>`: seed 003 §3.1's "recent errors" of a queue's workers. */
export function registerQueueErrorCommands(program: Command): void {
  // A subcommand of `sluice queues` (registered by queues.ts), which keeps listing queues without one.
  const queues = program.commands.find((c) => c.name() === "queues") ?? program.command("queues");
  withClientOptions(queues.command("errors <queue>"))
    .description("the queue's most recent job attempt errors, newest first (retried and failed jobs)")
    .option("--limit <n>", "rows", "10")
    .option("--json", "print JSON")
    .action(async (queue: string, own: ClientFlags & { limit: string; json?: boolean }) => {
      const opts = withParentFlags(queues, own);
      const query = new URLSearchParams({ limit: own.limit });
      const result = await clientFor(opts).call<{ errors: AttemptErrorRow[] }>(
        "GET",
        `/api/queues/${encodeURIComponent(queue)}/errors?${query.toString()}`,
      );
      if (opts.json) return console.log(JSON.stringify(result.errors, null, 2));
      const rows = result.errors.map((r) => ({ ...r, attempts: `${r.attempts_made}/${r.max_attempts}` }));
      console.log(table(rows, ["at", "job_id", "job_name", "state", "attempts", "last_error"]));
    });
}
