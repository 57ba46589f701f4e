import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface ReasonFlags extends ClientFlags {
  reason?: string;
  all?: boolean;
}

const q = (name: string) => encodeURIComponent(name);
const reasonBody = (flags: ReasonFlags) => (flags.reason ? { reason: flags.reason } : {});

function pauseOrResume(verb: "pause" | "resume") {
  return async (queue: string | undefined, flags: ReasonFlags) => {
    const client = clientFor(flags);
    if (flags.all) {
      const result = await client.call<Record<string, string[]>>("POST", `/api/queues/${verb}-all`, reasonBody(flags));
      console.log(`${verb === "pause" ? "Paused" : "Resumed"}: ${Object.values(result)[0]?.join(", ") ?? ""}`);
      return;
    }
    if (!queue) throw new Error(`Name a queue, or pass --all: sluice ${verb} <queue>`);
    const stats = await client.call<Record<string, unknown>>("POST", `/api/queues/${q(queue)}/${verb}`, reasonBody(flags));
    console.log(table([stats], ["name", "paused", "waiting", "active", "failed", "workers"]));
  };
}

interface QueueRow extends Record<string, unknown> {
  thresholds?: { waiting: number; failed: number };
  levels?: { waiting: string; failed: string };
}

/** "waiting<=100 failed<=10" and "OVER waiting" / "warn failed" / "ok": what an operator scans for. */
function withAlertColumns(row: QueueRow): Record<string, unknown> {
  const limits = row.thresholds;
  const levels = row.levels ?? { waiting: "ok", failed: "ok" };
  const over = Object.entries(levels)
    .filter(([, level]) => level === "over")
    .map(([count]) => count);
  const warn = Object.entries(levels)
    .filter(([, level]) => level === "warn")
    .map(([count]) => count);
  const alert = over.length > 0 ? `OVER ${over.join(",")}` : warn.length > 0 ? `warn ${warn.join(",")}` : "ok";
  return { ...row, thresholds: limits ? `waiting<=${limits.waiting} failed<=${limits.failed}` : "", alert };
}

/** The queue commands of runbooks 000, 003 and 004, over the admin API. */
export function registerQueueCommands(program: Command): void {
  withClientOptions(program.command("queues"))
    .description("every queue (or a QUEUE_GROUPS group's) with its counts, paused, workers, and the counts over their thresholds")
    .option("--group <group>", "only this group's queues (QUEUE_GROUPS)")
    .option("--json", "print JSON")
    .action(async (flags: ClientFlags & { json?: boolean; group?: string }) => {
      const client = clientFor(flags);
      const rows = flags.group
        ? (await client.call<{ queues: QueueRow[] }>("GET", `/api/admin/queues/${q(flags.group)}`)).queues
        : await client.call<QueueRow[]>("GET", "/api/queues");
      if (flags.json) return console.log(JSON.stringify(rows, null, 2));
      console.log(
        table(rows.map(withAlertColumns), [
          "name",
          "waiting",
          "active",
          "completed",
          "failed",
          "delayed",
          "paused",
          "workers",
          "thresholds",
          "alert",
        ]),
      );
    });

  for (const verb of ["pause", "resume"] as const) {
    withClientOptions(program.command(`${verb} [queue]`))
      .description(verb === "pause" ? "pause a queue (it accepts jobs, hands none out), or --all" : "resume a queue, or --all")
      .option("--all", "every queue")
      .option("--reason <text>", "why (kept in the audit log)")
      .action(pauseOrResume(verb));
  }

  withClientOptions(program.command("retry <queue>"))
    .description("move every failed job of a queue back to waiting, or one with --job")
    .option("--job <id>", "only this job")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (queue: string, flags: ReasonFlags & { job?: string }) => {
      const client = clientFor(flags);
      if (flags.job) {
        await client.call("POST", `/api/queues/${q(queue)}/jobs/${q(flags.job)}/retry`, reasonBody(flags));
        console.log(`Retried job ${flags.job} of ${queue}.`);
      } else {
        const result = await client.call<{ retried: number }>("POST", `/api/queues/${q(queue)}/retry-all`, reasonBody(flags));
        console.log(`Retried ${result.retried} failed job(s) of ${queue}.`);
      }
    });

  withClientOptions(program.command("clean <queue>"))
    .description("remove jobs of one state older than a grace period")
    .option("--grace <duration>", "only jobs older than this (e.g. 24h, 90m, 3600 = seconds)", "24h")
    .option("--status <state>", "completed, failed, waiting or delayed", "failed")
    .option("--limit <n>", "at most this many", (v) => Number.parseInt(v, 10))
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (queue: string, flags: ReasonFlags & { grace: string; status: string; limit?: number }) => {
      const body = {
        grace: /^\d+$/.test(flags.grace) ? Number(flags.grace) : flags.grace,
        status: flags.status,
        ...(flags.limit ? { limit: flags.limit } : {}),
        ...reasonBody(flags),
      };
      const result = await clientFor(flags).call<{ removed: number }>("POST", `/api/queues/${q(queue)}/clean`, body);
      console.log(`Removed ${result.removed} ${flags.status} job(s) older than ${flags.grace} from ${queue}.`);
    });

  withClientOptions(program.command("jobs <queue>"))
    .description("jobs of a queue in one state")
    .option("--state <state>", "waiting, active, delayed, completed or failed", "failed")
    .option("--limit <n>", "how many", "20")
    .option("--offset <n>", "skip this many", "0")
    .option("--json", "print JSON")
    .action(async (queue: string, flags: ClientFlags & { state: string; limit: string; offset: string; json?: boolean }) => {
      const page = await clientFor(flags).call<{ jobs: Array<Record<string, unknown>>; total: number }>(
        "GET",
        `/api/queues/${q(queue)}/jobs?state=${encodeURIComponent(flags.state)}&limit=${flags.limit}&offset=${flags.offset}`,
      );
      if (flags.json) return console.log(JSON.stringify(page, null, 2));
      const rows = page.jobs.map((j) => ({
        id: j.id,
        name: j.name,
        state: j.state,
        attempts: j.attempts_made,
        reason: j.failed_reason ?? "",
      }));
      console.log(table(rows, ["id", "name", "state", "attempts", "reason"]));
      console.log(`${page.jobs.length} of ${page.total} ${flags.state}`);
    });

  withClientOptions(program.command("remove <queue> <job>"))
    .description("remove one job (refused while a worker holds it)")
    .action(async (queue: string, job: string, flags: ClientFlags) => {
      await clientFor(flags).call("DELETE", `/api/queues/${q(queue)}/jobs/${q(job)}`);
      console.log(`Removed job ${job} from ${queue}.`);
    });
}
