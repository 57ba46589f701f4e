import ms from "ms";
import { SluiceError } from "../../core/errors.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import { withThresholds, type QueueStatus, type ThresholdConfig } from "../queues/thresholds.ts";
import { CLEANABLE_STATES, type CleanableState, type JobSummary } from "../queues/types.ts";

/** Who asks, and why: every admin action is written to the audit log with both. */
export interface AdminActor {
  actor: string;
  workspaceId?: string | undefined;
  reason?: string | undefined;
}

/** A grace period: a number is seconds (runbook 003's `"grace": 3600`); a string may carry a unit ("24h", "90m", "500ms", "2 days"). */
export function parseGraceMs(grace: number | string | undefined, fallbackMs: number): number {
  if (grace === undefined) return fallbackMs;
  if (typeof grace === "number" && Number.isFinite(grace) && grace >= 0) return grace * 1_000;
  const millis = typeof grace === "string" ? durationMs(grace) : undefined;
  if (millis === undefined)
    throw new SluiceError("VALIDATION_FAILED", `grace must be seconds or a duration like 24h, 90m, 30s: ${String(grace)}`);
  return millis;
}

/** A bare number is seconds, as in the runbooks; anything else is `ms` syntax. Undefined when it is neither, or negative. */
function durationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1_000;
  if (trimmed === "" || trimmed.startsWith("-")) return undefined;
  const millis = ms(trimmed as ms.StringValue) as number | undefined;
  return millis !== undefined && Number.isFinite(millis) ? millis : undefined;
}

function parseCleanState(status: string | undefined, fallback: CleanableState): CleanableState {
  if (status === undefined) return fallback;
  if (status === "stalled") {
    throw new SluiceError(
      "VALIDATION_FAILED",
      'There is no "stalled" list to clean: a job whose worker died is requeued automatically once its lock expires (QUEUE_LOCK_DURATION_MS). ' +
        "To drop one stuck job, remove it by id; to clear old waiting jobs use status=waiting.",
    );
  }
  if (!(CLEANABLE_STATES as readonly string[]).includes(status))
    throw new SluiceError("VALIDATION_FAILED", `status must be one of ${CLEANABLE_STATES.join(", ")}`);
  return status as CleanableState;
}

const DAY_MS = 86_400_000;

interface CleanRequest {
  /** How old a job must be: milliseconds or a duration such as `24h`. @default 24h */
  grace?: number | string | undefined;
  /** Which list: completed, failed, waiting, delayed, paused, prioritized. @default failed */
  status?: string | undefined;
  limit?: number | undefined;
}

/** Queue operations as the admin API and CLI offer them: the queue manager's, each mutation audited (write-ahead) with its actor and reason. */
export interface QueueAdmin {
  /** Every queue with its counts and where they stand against QUEUE_THRESHOLDS. */
  list(): Promise<QueueStatus[]>;
  stats(name: string): Promise<QueueStatus>;
  /** A QUEUE_GROUPS group's queues (or one queue's, named directly); QUEUE_NOT_FOUND for neither. */
  group(name: string): Promise<QueueGroupStatus>;
  pause(who: AdminActor, name: string): Promise<QueueStatus>;
  resume(who: AdminActor, name: string): Promise<QueueStatus>;
  pauseAll(who: AdminActor): Promise<{ paused: string[] }>;
  resumeAll(who: AdminActor): Promise<{ resumed: string[] }>;
  retryAll(who: AdminActor, name: string): Promise<{ retried: number }>;
  clean(who: AdminActor, name: string, request: CleanRequest): Promise<{ removed: number; state: CleanableState; grace_ms: number }>;
  /** Weekly maintenance (runbook 004 §9.1): completed and failed jobs past the grace, on every queue. */
  cleanAll(who: AdminActor, request: Pick<CleanRequest, "grace">): Promise<{ removed: Record<string, number>; grace_ms: number }>;
  retryJob(who: AdminActor, name: string, id: string): Promise<JobSummary>;
  removeJob(who: AdminActor, name: string, id: string): Promise<{ removed: string }>;
}

/** `GET /api/admin/queues/{group}` (seed 003: `.queues[] | {name, waiting, active, failed}`). */
export interface QueueGroupStatus {
  group: string;
  queues: QueueStatus[];
  /** Queues with a count past its threshold. */
  over: string[];
}

export interface QueueAdminOptions {
  /** QUEUE_THRESHOLDS. @default waiting 100, failed 100 for every queue */
  thresholds?: ThresholdConfig;
  /** QUEUE_GROUPS. @default {} */
  groups?: Readonly<Record<string, readonly string[]>>;
}

export function createQueueAdmin(queues: QueueManager, audit: AuditLog, options: QueueAdminOptions = {}): QueueAdmin {
  const thresholds = options.thresholds ?? { default: { waiting: 100, failed: 100 }, perQueue: {} };
  const groups = options.groups ?? {};
  const stats = async (name: string) => withThresholds(await queues.stats(name), thresholds);
  const audited = <T>(
    who: AdminActor,
    action: string,
    target: string,
    act: () => Promise<T>,
    describe?: (result: T) => Record<string, unknown>,
    details: Record<string, unknown> = {},
  ) =>
    audit.audited(
      { actor: who.actor, action, workspaceId: who.workspaceId ?? null, target, reason: who.reason ?? null, details },
      act,
      describe,
    );

  return {
    list: async () => (await queues.list()).map((listing) => withThresholds(listing, thresholds)),
    stats,
    async group(name) {
      const members = Object.hasOwn(groups, name) ? (groups[name] ?? []) : queues.has(name) ? [name] : undefined;
      if (!members)
        throw new SluiceError(
          "QUEUE_NOT_FOUND",
          `No queue group or queue named "${name}" (groups: ${Object.keys(groups).join(", ") || "none; set QUEUE_GROUPS"})`,
          { details: { group: name } },
        );
      const rows = await Promise.all(members.map(stats));
      return { group: name, queues: rows, over: rows.filter((r) => r.over.length > 0).map((r) => r.name) };
    },
    async pause(who: AdminActor, name: string) {
      await audited(who, "queue.pause", name, () => queues.pause(name));
      return stats(name);
    },
    async resume(who: AdminActor, name: string) {
      await audited(who, "queue.resume", name, () => queues.resume(name));
      return stats(name);
    },
    async pauseAll(who: AdminActor) {
      const names = await audited(
        who,
        "queue.pause-all",
        "*",
        () => queues.pauseAll(),
        (paused) => ({ queues: paused }),
      );
      return { paused: names };
    },
    async resumeAll(who: AdminActor) {
      const names = await audited(
        who,
        "queue.resume-all",
        "*",
        () => queues.resumeAll(),
        (resumed) => ({ queues: resumed }),
      );
      return { resumed: names };
    },
    retryAll: (who: AdminActor, name: string) =>
      audited(
        who,
        "queue.retry-all",
        name,
        () => queues.retryAll(name),
        (result) => ({ ...result }),
      ),
    async clean(who, name, options) {
      const graceMs = parseGraceMs(options.grace, DAY_MS);
      const state = parseCleanState(options.status, "failed");
      const result = await audited(
        who,
        "queue.clean",
        name,
        () => queues.clean(name, { graceMs, state, ...(options.limit ? { limit: options.limit } : {}) }),
        (r) => ({ ...r }),
        {
          grace_ms: graceMs,
          state,
        },
      );
      return { ...result, state, grace_ms: graceMs };
    },
    async cleanAll(who, options) {
      const graceMs = parseGraceMs(options.grace, DAY_MS);
      const removed = await audited(
        who,
        "queue.clean-all",
        "*",
        async () => {
          const counts: Record<string, number> = {};
          for (const name of queues.names()) {
            const completed = await queues.clean(name, { graceMs, state: "completed" });
            const failed = await queues.clean(name, { graceMs, state: "failed" });
            counts[name] = completed.removed + failed.removed;
          }
          return counts;
        },
        (counts) => ({ removed: counts }),
        { grace_ms: graceMs },
      );
      return { removed, grace_ms: graceMs };
    },
    retryJob: (who: AdminActor, name: string, id: string) => audited(who, "job.retry", `${name}/${id}`, () => queues.retryJob(name, id)),
    async removeJob(who: AdminActor, name: string, id: string) {
      await audited(who, "job.remove", `${name}/${id}`, () => queues.removeJob(name, id));
      return { removed: id };
    },
  };
}
