import type { ScheduleStatusRow } from "./sql.ts";

/** A schedule as the API and CLI show it, with `cron_job_status`'s columns and a health verdict. */
export interface ScheduleJson {
  name: string;
  cron: string;
  tz: string;
  target: { kind: ScheduleStatusRow["target_kind"]; name: string; input: unknown; workspace: string };
  source: ScheduleStatusRow["source"];
  last_run_at: string | null;
  next_run_at: string | null;
  /** The last firing's outcome: running, succeeded, failed; `scheduled` before the first. */
  status: string;
  last_error: string | null;
  last_success_at: string | null;
  /** STALE: no firing for longer than SCHEDULES_STALE_AFTER_SECONDS, or a firing overdue by more than a minute. */
  health: "OK" | "STALE";
  updated_at: string;
  updated_by: string;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
// A firing may start a little after its time (a busy worker); past this, it was missed.
const OVERDUE_GRACE_MS = 60_000;

function isStale(
  row: Pick<ScheduleStatusRow, "last_run_at" | "created_at" | "next_run_at">,
  staleAfterSeconds: number,
  now = Date.now(),
): boolean {
  const lastActivity = (row.last_run_at ?? row.created_at).getTime();
  if (lastActivity < now - staleAfterSeconds * 1000) return true;
  return row.next_run_at !== null && row.next_run_at.getTime() < now - OVERDUE_GRACE_MS;
}

export function toScheduleJson(row: ScheduleStatusRow, staleAfterSeconds: number, now = Date.now()): ScheduleJson {
  return {
    name: row.name,
    cron: row.cron,
    tz: row.tz,
    target: { kind: row.target_kind, name: row.target_name, input: row.input, workspace: row.workspace_id },
    source: row.source,
    last_run_at: iso(row.last_run_at),
    next_run_at: iso(row.next_run_at),
    status: row.status,
    last_error: row.last_error,
    last_success_at: iso(row.last_success_at),
    health: isStale(row, staleAfterSeconds, now) ? "STALE" : "OK",
    updated_at: row.updated_at.toISOString(),
    updated_by: row.updated_by,
  };
}
