import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { Store } from "../../ports/store.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { WorkerHandle } from "../queues/types.ts";
import { jobSchedulersOn } from "./job-schedulers.ts";
import { createSchedulesService, type ScheduleDefinition, type SchedulesService, type StartRun, type SubmitJob } from "./service.ts";
import { selectLastSuccess } from "./sql.ts";
import type { ScheduleJson } from "./view.ts";

export type { ScheduleDefinition, ScheduleTarget, StartRun } from "./service.ts";
export type { ScheduleJson } from "./view.ts";
/** Sluice's own queue the schedules fire on; tenants cannot submit to it. */
export const SCHEDULES_QUEUE = "sluice-schedules";

export interface SchedulesOptions {
  store: Store;
  queues: QueueManager;
  audit: AuditLog;
  metrics: Metrics;
  logger: Logger;
  submitJob: SubmitJob;
  taskExists: (type: string) => boolean;
  /** Late-bound: pipeline targets are refused (SCHEDULE_TARGET_UNAVAILABLE) while it gives nothing. */
  startRun?: () => StartRun | undefined;
  /** SCHEDULES_STALE_AFTER_SECONDS. @default 172800 (seed 003 §1.3: 2 days) */
  staleAfterSeconds?: number;
}

export interface Schedules extends Omit<SchedulesService, "fire"> {
  /** A schedule declared in code (`sluice.schedule()`): written at every start, not audited. */
  declare(definition: ScheduleDefinition): Promise<ScheduleJson>;
  /** Starts the worker that fires schedules and brings BullMQ's schedulers in line with the table. */
  startWorker(): Promise<WorkerHandle>;
  /** Late wiring by the root: pipeline targets work once runs give `startRun`. */
  wire(seams: { startRun?: StartRun }): void;
}

export function createSchedules(options: SchedulesOptions): Schedules {
  const logger = options.logger.child({ component: "schedules" });
  const wired: { startRun?: StartRun } = {};
  if (!options.queues.has(SCHEDULES_QUEUE)) options.queues.declare(SCHEDULES_QUEUE, { defaultJobOptions: { attempts: 1 } });
  const service = createSchedulesService({
    store: options.store,
    audit: options.audit,
    logger,
    schedulers: jobSchedulersOn(options.queues, SCHEDULES_QUEUE),
    submitJob: options.submitJob,
    taskExists: options.taskExists,
    startRun: () => options.startRun?.() ?? wired.startRun,
    staleAfterSeconds: options.staleAfterSeconds ?? 172_800,
  });
  // Read from the table at scrape time: every process reports the same (aggregate with max).
  options.metrics.gauge({
    name: "sluice_schedule_last_success_timestamp_seconds",
    help: "When each schedule last fired successfully (its creation until its first success), Unix seconds",
    labelNames: ["schedule"],
    collect: async (gauge) => {
      try {
        for (const row of await selectLastSuccess(options.store)) gauge.set({ schedule: row.name }, Math.floor(row.at.getTime() / 1000));
      } catch (err) {
        logger.warn({ err }, "could not read schedules for sluice_schedule_last_success_timestamp_seconds");
      }
    },
  });
  const { fire, ...rest } = service;
  return {
    ...rest,
    wire(seams) {
      Object.assign(wired, seams);
    },
    declare: (definition) => service.put(definition, { actor: "code" }, "code"),
    async startWorker() {
      const handle = await options.queues.startWorker(SCHEDULES_QUEUE, fire, { concurrency: 4 });
      await service.sync();
      return handle;
    },
  };
}
