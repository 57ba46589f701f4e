import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface RunJson {
  id: string;
  pipeline: string;
  status: string;
  entity_key: string | null;
  tags: string[];
  failed_step: string | null;
  error: { code: string; message: string } | null;
  created_at: string;
  steps?: Array<Record<string, unknown>>;
}

const e = (value: string) => encodeURIComponent(value);

function query(params: Record<string, string | undefined>): string {
  const entries = Object.entries(params).filter((p): p is [string, string] => p[1] !== undefined);
  return entries.length ? `?${new URLSearchParams(entries).toString()}` : "";
}

function printRun(run: RunJson, json: boolean | undefined): void {
  if (json) return void console.log(JSON.stringify(run, null, 2));
  console.log(
    table(
      [{ ...run, tags: run.tags.join(","), error: run.error ? `${run.error.code}: ${run.error.message}` : "" }],
      ["id", "pipeline", "status", "entity_key", "tags", "failed_step", "error"],
    ),
  );
  if (run.steps?.length) {
    console.log("");
    console.log(
      table(
        run.steps.map((s) => ({ ...s, error: s.error ? `${(s.error as { code: string }).code}` : "" })),
        ["position", "name", "kind", "status", "attempts", "duration_ms", "error"],
      ),
    );
  }
}

/** `sluice runs list|show|cancel|replay` over the runs API. */
function registerRunsGroup(program: Command): void {
  const runs = program.command("runs").description("pipeline runs: list, show, cancel (one or --tag), replay from a step");

  withClientOptions(runs.command("list"))
    .description("the workspace's runs, newest first")
    .option("--pipeline <name>")
    .option("--status <status>", "queued, running, waiting, sleeping, completed, failed, cancelled")
    .option("--tag <tag>", "e.g. campaign:123")
    .option("--entity <key>")
    .option("--limit <n>", "up to 500", "50")
    .option("--json", "print JSON")
    .action(
      async (flags: ClientFlags & { pipeline?: string; status?: string; tag?: string; entity?: string; limit: string; json?: boolean }) => {
        const path = `/api/runs${query({ pipeline: flags.pipeline, status: flags.status, tag: flags.tag, entity: flags.entity, limit: flags.limit })}`;
        const page = await clientFor(flags).call<{ runs: RunJson[] }>("GET", path);
        if (flags.json) return void console.log(JSON.stringify(page, null, 2));
        console.log(
          table(
            page.runs.map((r) => ({ ...r, tags: r.tags.join(","), error: r.error?.code ?? "" })),
            ["id", "pipeline", "status", "entity_key", "tags", "failed_step", "error", "created_at"],
          ),
        );
      },
    );

  withClientOptions(runs.command("show <id>"))
    .description("one run with its steps (timing, attempts, errors)")
    .option("--wait <seconds>", "wait up to this long (max 60) for the run to settle")
    .option("--json", "print JSON")
    .action(async (id: string, flags: ClientFlags & { wait?: string; json?: boolean }) => {
      printRun(await clientFor(flags).call<RunJson>("GET", `/api/runs/${e(id)}${query({ wait: flags.wait })}`), flags.json);
    });

  withClientOptions(runs.command("cancel [id]"))
    .description("cancel a run, or every unsettled run with --tag (a campaign)")
    .option("--tag <tag>", "cancel every unsettled run with this tag")
    .option("--reason <text>", "why (kept in the audit log and on the run)")
    .action(async (id: string | undefined, flags: ClientFlags & { tag?: string; reason?: string }) => {
      const client = clientFor(flags);
      const reason = flags.reason ? { reason: flags.reason } : {};
      if (flags.tag) {
        const result = await client.call<{ cancelled: number }>("POST", "/api/runs/cancel", { tag: flags.tag, ...reason });
        return void console.log(`Cancelled ${result.cancelled} run(s) tagged ${flags.tag}.`);
      }
      if (!id) throw new Error("Name a run, or pass --tag: sluice runs cancel <id>");
      const run = await client.call<RunJson>("POST", `/api/runs/${e(id)}/cancel`, reason);
      console.log(`Run ${run.id} is ${run.status}.`);
    });

  withClientOptions(runs.command("replay <id>"))
    .description("run a settled run again from a step (default: its failed step); earlier steps keep their results")
    .option("--from-step <name>", "the first step to run again")
    .action(async (id: string, flags: ClientFlags & { fromStep?: string }) => {
      const run = await clientFor(flags).call<RunJson>(
        "POST",
        `/api/runs/${e(id)}/replay`,
        flags.fromStep ? { from_step: flags.fromStep } : {},
      );
      console.log(`Run ${run.id} is ${run.status} again${flags.fromStep ? ` from step ${flags.fromStep}` : ""}.`);
    });
}

/** `sluice entities show|rerun|set-state`: seed 003 §2.1 and §2.2. */
function registerEntitiesGroup(program: Command): void {
  const entities = program.command("entities").description("entities that runs are keyed by: their state, a re-run, a forced state");

  withClientOptions(entities.command("show <pipeline> <key>"))
    .description("the entity's state and its latest transitions")
    .option("--json", "print JSON")
    .action(async (pipeline: string, key: string, flags: ClientFlags & { json?: boolean }) => {
      const view = await clientFor(flags).call<{ state: string; transitions: Array<Record<string, unknown>> }>(
        "GET",
        `/api/entities/${e(pipeline)}/${e(key)}`,
      );
      if (flags.json) return void console.log(JSON.stringify(view, null, 2));
      console.log(`State: ${view.state}`);
      console.log(table(view.transitions, ["created_at", "from_state", "to_state", "actor", "bypass_rules", "reason"]));
    });

  withClientOptions(entities.command("rerun <pipeline> <key>"))
    .description("start a new run for the entity with its latest run's input")
    .action(async (pipeline: string, key: string, flags: ClientFlags) => {
      const run = await clientFor(flags).call<{ id: string; status: string }>("POST", `/api/entities/${e(pipeline)}/${e(key)}/rerun`, {});
      console.log(`Started run ${run.id} (${run.status}).`);
    });

  withClientOptions(entities.command("set-state <pipeline> <key> <state>"))
    .description("force the entity's state (operator key); the pipeline's transitions apply unless --bypass-rules")
    .requiredOption("--reason <text>", "why (kept in the audit log and the entity's history)")
    .option("--bypass-rules", "allow a transition the pipeline does not declare")
    .action(async (pipeline: string, key: string, state: string, flags: ClientFlags & { reason: string; bypassRules?: boolean }) => {
      const result = await clientFor(flags).call<{ from: string | null; to: string }>(
        "POST",
        `/api/entities/${e(pipeline)}/${e(key)}/state`,
        {
          state,
          reason: flags.reason,
          bypass_rules: Boolean(flags.bypassRules),
        },
      );
      console.log(`${pipeline}/${key}: ${result.from ?? "(none)"} -> ${result.to}`);
    });
}

export function registerRunCommands(program: Command): void {
  registerRunsGroup(program);
  registerEntitiesGroup(program);
}
