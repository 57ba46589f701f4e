import type { Command } from "commander";
import { SluiceError } from "../../core/errors.ts";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface ScheduleRow {
  name: string;
  cron: string;
  tz: string;
  target: { kind: string; name: string; workspace: string };
  last_run_at: string | null;
  next_run_at: string | null;
  status: string;
  health: string;
  last_error: string | null;
}

const show = (rows: ScheduleRow[]) =>
  table(
    rows.map((r) => ({ ...r, target: `${r.target.kind}:${r.target.name}`, job_name: r.name })),
    ["job_name", "cron", "tz", "target", "last_run_at", "next_run_at", "status", "health", "last_error"],
  );

function parseInput(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SluiceError("VALIDATION_FAILED", '--input must be JSON, e.g. \'{"text":"hello"}\'');
  }
}

/** `sluice schedules [list|set|delete]`: cron schedules, with seed 003 §1.3's STALE verdict. */
export function registerScheduleCommands(program: Command): void {
  const schedules = program
    .command("schedules")
    .description("cron schedules of tasks and pipelines: last and next run, status, STALE ones (admin key)");

  withClientOptions(schedules.command("list", { isDefault: true }))
    .description("every schedule (an operator key sees every workspace's), with HEALTH OK or STALE")
    .option("--workspace <id>", "only this workspace (operator)")
    .option("--stale", "only STALE ones")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { workspace?: string; stale?: boolean; json?: boolean }) => {
      const query = opts.workspace ? `?workspace=${encodeURIComponent(opts.workspace)}` : "";
      const body = await clientFor(opts).call<{ schedules: ScheduleRow[] }>("GET", `/api/schedules${query}`);
      const rows = opts.stale ? body.schedules.filter((s) => s.health === "STALE") : body.schedules;
      console.log(opts.json ? JSON.stringify(rows, null, 2) : show(rows));
      if (rows.some((s) => s.health === "STALE")) process.exitCode = 2;
    });

  withClientOptions(schedules.command("set <name>"))
    .description(
      "create or change a schedule in your workspace, e.g. `sluice schedules set e5_nightly --cron '0 2 * * *' --tz Europe/Bucharest --task classify --input '{\"text\":\"x\"}'`",
    )
    .requiredOption("--cron <pattern>", "cron pattern (5 fields, or 6 with seconds first)")
    .option("--tz <zone>", "IANA time zone", "UTC")
    .option("--task <type>", "run this task type")
    .option("--pipeline <name>", "start this pipeline")
    .option("--input <json>", "the task's or pipeline's input")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(
      async (
        name: string,
        opts: ClientFlags & { cron: string; tz: string; task?: string; pipeline?: string; input?: string; reason?: string },
      ) => {
        if (Boolean(opts.task) === Boolean(opts.pipeline))
          throw new SluiceError("VALIDATION_FAILED", "give exactly one of --task or --pipeline");
        const target = { kind: opts.task ? "task" : "pipeline", name: opts.task ?? opts.pipeline, input: parseInput(opts.input) };
        const row = await clientFor(opts).call<ScheduleRow>("PUT", `/api/schedules/${encodeURIComponent(name)}`, {
          cron: opts.cron,
          tz: opts.tz,
          target,
          ...(opts.reason ? { reason: opts.reason } : {}),
        });
        console.log(show([row]));
      },
    );

  withClientOptions(schedules.command("delete <name>"))
    .description("remove a schedule and its BullMQ scheduler")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (name: string, opts: ClientFlags & { reason?: string }) => {
      await clientFor(opts).call("DELETE", `/api/schedules/${encodeURIComponent(name)}`, opts.reason ? { reason: opts.reason } : {});
      console.log(`Removed schedule ${name}.`);
    });
}
