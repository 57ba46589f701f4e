import type { Command } from "commander";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface TaskRow {
  id: string;
  approval_type: string;
  pipeline_stage: string | null;
  status: string;
  assignee: string | null;
  due_at: string;
  overdue: boolean;
  decided_by: string | null;
  reason: string | null;
  run_id: string | null;
}

const COLUMNS = ["id", "approval_type", "pipeline_stage", "status", "assignee", "due_at", "overdue", "decided_by", "reason"];
const show = (rows: TaskRow[]) => table(rows as unknown as Array<Record<string, unknown>>, COLUMNS);
const path = (id: string, action = "") => `/api/approvals/${encodeURIComponent(id)}${action}`;

interface ListFlags extends ClientFlags {
  type?: string;
  stage?: string;
  assignee?: string;
  status?: string;
  overdue?: boolean;
  limit?: string;
  json?: boolean;
}

function inboxQuery(opts: ListFlags): string {
  const query = new URLSearchParams();
  for (const [name, value] of [
    ["type", opts.type],
    ["stage", opts.stage],
    ["assignee", opts.assignee],
    ["status", opts.status],
    ["limit", opts.limit],
  ] as const)
    if (value) query.set(name, value);
  if (opts.overdue) query.set("overdue", "true");
  return query.size > 0 ? `?${query.toString()}` : "";
}

/** `sluice approvals list|show|approve|reject|reassign|archive|types`: seed 003's HITL inbox from a terminal. */
export function registerApprovalCommands(program: Command): void {
  const approvals = program
    .command("approvals")
    .description("human approval tasks of your workspace: the inbox, decisions, reassignment, archive (admin key)");

  withClientOptions(approvals.command("list", { isDefault: true }))
    .description("the inbox, oldest deadline first")
    .option("--type <type>", "approval type")
    .option("--stage <stage>", "pipeline stage, e.g. E5")
    .option("--assignee <name>", "who it is assigned to")
    .option("--status <list>", "pending, escalated, approved, rejected, expired (comma-separated)")
    .option("--overdue", "open and past the deadline")
    .option("--limit <n>", "at most this many (1-500)")
    .option("--json", "print JSON")
    .action(async (opts: ListFlags) => {
      const body = await clientFor(opts).call<{ tasks: TaskRow[]; total: number }>("GET", `/api/approvals${inboxQuery(opts)}`);
      console.log(opts.json ? JSON.stringify(body, null, 2) : `${show(body.tasks)}\n${body.tasks.length} of ${body.total} task(s).`);
    });

  withClientOptions(approvals.command("show <id>"))
    .description("one task, with its payload")
    .action(async (id: string, opts: ClientFlags) => {
      console.log(JSON.stringify(await clientFor(opts).call("GET", path(id)), null, 2));
    });

  for (const [verb, what] of [
    ["approve", "approve: the waiting run goes on with approved=true"],
    ["reject", "reject: the waiting run goes on with approved=false"],
  ] as const) {
    withClientOptions(approvals.command(`${verb} <id>`))
      .description(`${what} (audited, decided_by = your key)`)
      .option("--reason <text>", "why (kept on the task and in the audit log)")
      .action(async (id: string, opts: ClientFlags & { reason?: string }) => {
        const task = await clientFor(opts).call<TaskRow>("POST", path(id, `/${verb}`), opts.reason ? { reason: opts.reason } : {});
        console.log(show([task]));
      });
  }

  withClientOptions(approvals.command("reassign <id> <assignee>"))
    .description("give an open task to someone else (audited)")
    .option("--reason <text>", "why")
    .action(async (id: string, assignee: string, opts: ClientFlags & { reason?: string }) => {
      const task = await clientFor(opts).call<TaskRow>("POST", path(id, "/reassign"), {
        assignee,
        ...(opts.reason ? { reason: opts.reason } : {}),
      });
      console.log(show([task]));
    });

  withClientOptions(approvals.command("archive"))
    .description("move decided tasks older than --older-than to approval_tasks_archive, in one transaction (audited)")
    .option("--older-than <duration>", "e.g. 30d, 12h; seconds when a bare number", "30d")
    .option("--stage <stage>", "only this pipeline stage, e.g. E5")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (opts: ClientFlags & { olderThan: string; stage?: string; reason?: string }) => {
      const olderThan = /^\d+$/.test(opts.olderThan) ? Number(opts.olderThan) : opts.olderThan;
      const body = {
        older_than: olderThan,
        ...(opts.stage ? { pipeline_stage: opts.stage } : {}),
        ...(opts.reason ? { reason: opts.reason } : {}),
      };
      const result = await clientFor(opts).call<{ archived: number }>("POST", "/api/approvals/archive", body);
      console.log(`Archived ${result.archived} decided task(s) older than ${opts.olderThan}.`);
    });

  withClientOptions(approvals.command("types"))
    .description("approval type configs: SLA, assignee rule, what happens at the deadline")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { json?: boolean }) => {
      const body = await clientFor(opts).call<{ types: Array<Record<string, unknown>> }>("GET", "/api/approval-types");
      console.log(
        opts.json
          ? JSON.stringify(body.types, null, 2)
          : table(body.types, [
              "approval_type",
              "sla_seconds",
              "assignee_rule",
              "on_deadline",
              "escalate_to",
              "notify_action",
              "updated_by",
            ]),
      );
    });
}
