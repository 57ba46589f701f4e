import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface FlagRow {
  name: string;
  value: unknown;
  source: string;
  default: unknown;
  updated_at: string | null;
  updated_by: string | null;
}

/** `true`/`false`/numbers as JSON, anything else as the string typed. */
function parseValue(text: string): unknown {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "boolean" || typeof parsed === "number" || typeof parsed === "string" ? parsed : text;
  } catch {
    return text;
  }
}

const show = (rows: FlagRow[]) =>
  table(rows as unknown as Array<Record<string, unknown>>, ["name", "value", "source", "default", "updated_by", "updated_at"]);

/** `sluice flags list|set|unset`: kill switches and other runtime flags, without a redeploy. */
export function registerFlagCommands(program: Command): void {
  const flags = program
    .command("flags")
    .description("runtime flags and kill switches (task.<type>.enabled, provider.<name>.enabled, embeddings.backfill.enabled)");

  withClientOptions(flags.command("list"))
    .description("every flag with its value and where it comes from (runtime, env, default)")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { json?: boolean }) => {
      const body = await clientFor(opts).call<{ flags: FlagRow[] }>("GET", "/api/flags");
      console.log(opts.json ? JSON.stringify(body.flags, null, 2) : show(body.flags));
    });

  withClientOptions(flags.command("set <name> <value>"))
    .description(
      "set a flag in every process within seconds, e.g. `sluice flags set task.classify.enabled false --reason 'provider outage'`",
    )
    .requiredOption("--reason <text>", "why (kept in the audit log)")
    .action(async (name: string, value: string, opts: ClientFlags & { reason: string }) => {
      const state = await clientFor(opts).call<FlagRow>("PUT", `/api/flags/${encodeURIComponent(name)}`, {
        value: parseValue(value),
        reason: opts.reason,
      });
      console.log(show([state]));
    });

  withClientOptions(flags.command("unset <name>"))
    .description("remove a flag's runtime value: back to its env default")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (name: string, opts: ClientFlags & { reason?: string }) => {
      const state = await clientFor(opts).call<FlagRow>(
        "DELETE",
        `/api/flags/${encodeURIComponent(name)}`,
        opts.reason ? { reason: opts.reason } : {},
      );
      console.log(show([state]));
    });
}
