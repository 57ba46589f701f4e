import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Queryable } from "../../ports/store.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { WorkerHandle } from "../queues/types.ts";
import { jobSchedulersOn } from "../schedules/job-schedulers.ts";
import { archiveAudit, hasAuditBefore } from "./audit-archive.ts";

/** Sluice's own housekeeping queue; tenants cannot submit to it. */
// No "ai" in the name: runbook 000 picks the AI queues out with jq `contains("ai")`.
export const MAINTENANCE_QUEUE = "sluice-housekeeping";
const SCHEDULER_ID = "audit-archive";
const ARCHIVE_JOB = "audit.archive";
const BATCH = 1_000;
const DAY_MS = 86_400_000;

export interface AuditRetentionOptions {
  store: Queryable;
  audit: AuditLog;
  queues: QueueManager;
  logger: Logger;
  /** AUDIT_RETENTION_DAYS: rows older than this move to action_audit_archive; 0 turns the schedule off. */
  retentionDays: number;
  /** AUDIT_ARCHIVE_INTERVAL_MS: how often the schedule fires. */
  everyMs: number;
}

export interface AuditRetention {
  /** Moves every row past the retention to the archive table, in batches; returns how many. */
  runOnce(): Promise<number>;
  /** Upserts (or, at 0 days, removes) the job scheduler and starts this process's worker for it. */
  startWorker(): Promise<WorkerHandle>;
}

/**
 * The scheduled default of `sluice audit archive`: a BullMQ job scheduler (one across the fleet,
 * on every queue engine) fires a job that whichever worker takes it runs.
 */
export function createAuditRetention(options: AuditRetentionOptions): AuditRetention {
  const logger = options.logger.child({ component: "audit-retention" });
  if (!options.queues.has(MAINTENANCE_QUEUE)) options.queues.declare(MAINTENANCE_QUEUE, { defaultJobOptions: { attempts: 1 } });
  const schedulers = jobSchedulersOn(options.queues, MAINTENANCE_QUEUE);

  async function runOnce(): Promise<number> {
    let total = 0;
    // Nothing to move, nothing audited: the schedule fires often and would fill the log it keeps short.
    if (!(await hasAuditBefore(options.store, new Date(Date.now() - options.retentionDays * DAY_MS)))) return 0;
    for (;;) {
      const request = {
        actor: "system:audit-retention",
        reason: `AUDIT_RETENTION_DAYS=${options.retentionDays}`,
        olderThanMs: options.retentionDays * DAY_MS,
        limit: BATCH,
        toTable: true,
      };
      const batch = await archiveAudit(options.store, options.audit, request, false);
      total += batch.archived;
      if (!batch.more) break;
    }
    if (total > 0)
      logger.info({ archived: total, retentionDays: options.retentionDays }, "audit rows past retention moved to action_audit_archive");
    return total;
  }

  return {
    runOnce,
    async startWorker() {
      if (options.retentionDays > 0) await schedulers.upsert(SCHEDULER_ID, { every: options.everyMs }, { name: ARCHIVE_JOB, data: {} });
      else await schedulers.remove(SCHEDULER_ID);
      return options.queues.startWorker(
        MAINTENANCE_QUEUE,
        async (job) => {
          if (job.name !== ARCHIVE_JOB)
            throw new SluiceError("JOB_TYPE_UNKNOWN", `${MAINTENANCE_QUEUE} runs Sluice's housekeeping only, not "${job.name}"`);
          // A job queued before retention was turned off does nothing.
          return { archived: options.retentionDays > 0 ? await runOnce() : 0 };
        },
        { concurrency: 1 },
      );
    },
  };
}
