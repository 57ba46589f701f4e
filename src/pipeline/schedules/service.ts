import { defaultRepeatStrategy, type Job } from "bullmq";
import { SluiceError, isSluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Store } from "../../ports/store.ts";
import type { AdminActor } from "../admin/queue-admin.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { Principal } from "../intake/scopes.ts";
import type { JobSchedulers } from "./job-schedulers.ts";
import * as sql from "./sql.ts";
import { toScheduleJson, type ScheduleJson } from "./view.ts";

/** What a schedule starts each time it fires. */
export interface ScheduleTarget {
  kind: sql.TargetKind;
  /** A task type (`classify`, one of yours) or a pipeline's name. */
  name: string;
  input?: unknown;
  workspace: string;
}

export interface ScheduleDefinition {
  /** Unique; seed 003 names them `e5_*`. Letters, digits, '.', '_', '-'; up to 100. */
  name: string;
  /** Cron pattern, 5 fields (minute first) or 6 (seconds first). */
  cron: string;
  /** IANA time zone the pattern is read in. @default "UTC" */
  tz?: string | undefined;
  target: ScheduleTarget;
}

/** Starts a pipeline run (runs.start); absent until pipelines are wired. */
export type StartRun = (request: {
  pipeline: string;
  workspace: string;
  input: unknown;
  clientRequestId?: string;
}) => Promise<{ id: string }>;
/** Enqueues a task job through the jobs service (idempotent per client_request_id). */
export type SubmitJob = (
  principal: Principal,
  request: { type: string; input: unknown; client_request_id: string },
) => Promise<{ id: string }>;

export interface SchedulesServiceDeps {
  store: Store;
  audit: AuditLog;
  logger: Logger;
  schedulers: JobSchedulers;
  submitJob: SubmitJob;
  taskExists: (type: string) => boolean;
  startRun?: (() => StartRun | undefined) | undefined;
  staleAfterSeconds: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function nextFiring(cron: string, tz: string): Date {
  try {
    Intl.DateTimeFormat("en-US", { timeZone: tz });
  } catch {
    throw new SluiceError("SCHEDULE_INVALID", `Unknown time zone "${tz}": use an IANA name such as Europe/Bucharest or UTC`, {
      details: { tz },
    });
  }
  let next: number | undefined;
  try {
    next = defaultRepeatStrategy(Date.now(), { pattern: cron, tz });
  } catch (err) {
    throw new SluiceError("SCHEDULE_INVALID", `Invalid cron pattern "${cron}": ${(err as Error).message}`, { details: { cron } });
  }
  if (next === undefined) throw new SluiceError("SCHEDULE_INVALID", `Cron pattern "${cron}" never fires again`, { details: { cron } });
  return new Date(next);
}

/** The firing a scheduler job stands for: BullMQ names them `repeat:{scheduler}:{millis}`. */
function firingOf(job: Job): Date {
  const millis = Number(/:(\d+)$/.exec(String(job.id))?.[1]);
  return new Date(Number.isFinite(millis) && millis > 0 ? millis : job.timestamp);
}

const errorText = (err: unknown) => (isSluiceError(err) ? `${err.code}: ${err.message}` : (err as Error).message);

/** Cron schedules of tasks and pipelines: rows in `schedules`, fired by BullMQ job schedulers of the same name. */
export function createSchedulesService(deps: SchedulesServiceDeps) {
  const { store, audit, schedulers } = deps;
  const logger = deps.logger;

  function validate(def: ScheduleDefinition): { tz: string; next: Date } {
    if (!NAME.test(def.name))
      throw new SluiceError("SCHEDULE_INVALID", `Invalid schedule name "${def.name}": letters, digits, '.', '_' or '-', up to 100`);
    const tz = def.tz ?? "UTC";
    const next = nextFiring(def.cron, tz);
    if (def.target.kind === "task" && !deps.taskExists(def.target.name)) {
      throw new SluiceError("JOB_TYPE_UNKNOWN", `No task type "${def.target.name}"`, { details: { type: def.target.name } });
    }
    if (def.target.kind === "pipeline" && !deps.startRun?.()) {
      throw new SluiceError("SCHEDULE_TARGET_UNAVAILABLE", "Pipeline runs are not available on this server: schedule a task instead", {
        details: { pipeline: def.target.name },
      });
    }
    return { tz, next };
  }

  async function put(def: ScheduleDefinition, actor: AdminActor, source: "api" | "code"): Promise<ScheduleJson> {
    const { tz, next } = validate(def);
    const existing = await sql.selectSchedule(store, def.name);
    if (existing && existing.workspace_id !== def.target.workspace) {
      throw new SluiceError("CONFLICT", `The schedule name "${def.name}" is taken`, { details: { name: def.name } });
    }
    const input: sql.ScheduleInput = {
      name: def.name,
      cron: def.cron,
      tz,
      targetKind: def.target.kind,
      targetName: def.target.name,
      input: def.target.input ?? {},
      workspaceId: def.target.workspace,
      source,
      nextRunAt: next,
    };
    const write = async () => {
      await sql.upsertSchedule(store, input, actor.actor);
      // The row is the truth; a scheduler that failed to update is put right when a worker starts (sync).
      const scheduled = await schedulers.upsert(def.name, { pattern: def.cron, tz }, { name: "fire", data: { schedule: def.name } });
      if (scheduled) await sql.setNextRun(store, def.name, scheduled);
    };
    if (source === "code") await write();
    else
      await audit.audited(
        {
          actor: actor.actor,
          action: "schedule.put",
          workspaceId: actor.workspaceId,
          target: def.name,
          reason: actor.reason ?? null,
          details: { cron: def.cron, tz, target: def.target },
        },
        write,
      );
    return mustGet(def.name, def.target.workspace);
  }

  async function mustGet(name: string, workspaceId?: string): Promise<ScheduleJson> {
    const row = await sql.selectSchedule(store, name);
    if (!row || (workspaceId !== undefined && row.workspace_id !== workspaceId))
      throw new SluiceError("SCHEDULE_NOT_FOUND", `No schedule "${name}"`, { details: { name } });
    return toScheduleJson(row, deps.staleAfterSeconds);
  }

  async function list(workspaceId?: string): Promise<ScheduleJson[]> {
    const now = Date.now();
    return (await sql.selectSchedules(store, workspaceId)).map((r) => toScheduleJson(r, deps.staleAfterSeconds, now));
  }

  async function remove(actor: AdminActor & { workspaceId: string }, name: string): Promise<{ removed: string }> {
    await mustGet(name, actor.workspaceId);
    await audit.audited(
      { actor: actor.actor, action: "schedule.delete", workspaceId: actor.workspaceId, target: name, reason: actor.reason ?? null },
      async () => {
        await sql.deleteSchedule(store, name);
        await schedulers.remove(name);
      },
    );
    return { removed: name };
  }

  async function start(row: sql.ScheduleRow, firedFor: Date): Promise<{ jobId?: string; runId?: string }> {
    const clientRequestId = `schedule:${row.name}:${firedFor.getTime()}`;
    if (row.target_kind === "task") {
      const principal: Principal = { keyId: `schedule:${row.name}`, workspaceId: row.workspace_id, scopes: ["jobs:write"] };
      const job = await deps.submitJob(principal, { type: row.target_name, input: row.input, client_request_id: clientRequestId });
      return { jobId: job.id };
    }
    const startRun = deps.startRun?.();
    if (!startRun) throw new SluiceError("SCHEDULE_TARGET_UNAVAILABLE", "Pipeline runs are not available on this server");
    const run = await startRun({ pipeline: row.target_name, workspace: row.workspace_id, input: row.input, clientRequestId });
    return { runId: run.id };
  }

  /** The scheduler job's processor: one firing, recorded in `schedule_runs` (once, even if the job is handed out twice). */
  async function fire(job: Job): Promise<unknown> {
    const named = (job.data as { schedule?: unknown }).schedule;
    const name = typeof named === "string" ? named : "";
    const row = await sql.selectSchedule(store, name);
    if (!row) {
      await schedulers.remove(name);
      return { skipped: "schedule removed" };
    }
    const firedFor = firingOf(job);
    const runRow = await sql.insertRun(store, name, firedFor);
    try {
      if (runRow === undefined) return { skipped: "already fired" };
      try {
        const started = await start(row, firedFor);
        await sql.finishRun(store, runRow, { status: "succeeded", ...started });
        return started;
      } catch (err) {
        await sql.finishRun(store, runRow, { status: "failed", error: errorText(err) });
        logger.warn({ err, schedule: name }, "scheduled firing failed");
        throw err;
      }
    } finally {
      await sql.setNextRun(store, name, await schedulers.next(name)).catch(() => undefined);
    }
  }

  /** Makes BullMQ's schedulers match the table: every row scheduled, no scheduler without a row. */
  async function sync(): Promise<void> {
    for (const row of await sql.selectSchedules(store)) {
      try {
        const next = await schedulers.upsert(row.name, { pattern: row.cron, tz: row.tz }, { name: "fire", data: { schedule: row.name } });
        await sql.setNextRun(store, row.name, next);
      } catch (err) {
        logger.error({ err, schedule: row.name }, "could not schedule; fix it with PUT /api/schedules/{name}");
      }
    }
    const known = new Set(await sql.selectAllScheduleNames(store));
    for (const id of await schedulers.ids()) if (!known.has(id)) await schedulers.remove(id);
  }

  return { put, get: mustGet, list, remove, fire, sync };
}

export type SchedulesService = ReturnType<typeof createSchedulesService>;
