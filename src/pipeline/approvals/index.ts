import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { Store } from "../../ports/store.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { WorkerHandle } from "../queues/types.ts";
import type { ActionExecutor, WaitingStepResumer } from "../runs/contracts.ts";
import { jobSchedulersOn } from "../schedules/job-schedulers.ts";
import { sweepDeadlines, type SweepResult } from "./deadline-sweep.ts";
import { createApprovalInstruments } from "./instruments.ts";
import { createApprovalsService, type ApprovalsService } from "./service.ts";

export type { ApprovalTaskJson, ApprovalTypeJson } from "./view.ts";
export type { OnDeadline } from "./sql.ts";

/** Sluice's own queue for the deadline sweep; tenants cannot submit to it. */
export const APPROVALS_QUEUE = "sluice-approvals";
const SWEEP_SCHEDULER = "approval-deadline-sweep";

export interface ApprovalsOptions {
  store: Store;
  queues: QueueManager;
  audit: AuditLog;
  metrics: Metrics;
  logger: Logger;
  /** Deadline of an approval type without a config (APPROVALS_DEFAULT_SLA_SECONDS). @default 86400 */
  defaultSlaSeconds?: number;
  /** How often the deadline sweep runs (APPROVALS_SWEEP_MS). @default 30000 */
  sweepMs?: number;
  resumer?: () => WaitingStepResumer | undefined;
  actions?: () => ActionExecutor | undefined;
}

export interface Approvals extends ApprovalsService {
  /** One deadline sweep now (the scheduled job runs the same). */
  sweep(): Promise<SweepResult>;
  /** Upserts the sweep's job scheduler and starts its worker (role worker or all). */
  startWorker(): Promise<WorkerHandle>;
  /** Late wiring by the root, for seams built after approvals: the factory options win when they give one. */
  wire(seams: { resumer?: WaitingStepResumer; actions?: ActionExecutor }): void;
}

export function createApprovals(options: ApprovalsOptions): Approvals {
  const logger = options.logger.child({ component: "approvals" });
  const wired: { resumer?: WaitingStepResumer; actions?: ActionExecutor } = {};
  const instruments = createApprovalInstruments(options.metrics, options.store, logger);
  const service = createApprovalsService({
    store: options.store,
    audit: options.audit,
    instruments,
    logger,
    defaultSlaSeconds: options.defaultSlaSeconds ?? 86_400,
    resumer: () => options.resumer?.() ?? wired.resumer,
    actions: () => options.actions?.() ?? wired.actions,
  });
  if (!options.queues.has(APPROVALS_QUEUE)) options.queues.declare(APPROVALS_QUEUE, { defaultJobOptions: { attempts: 1 } });
  const sweep = () => sweepDeadlines({ store: options.store, logger, settled: service.settled, resume: service.resume });
  return {
    ...service,
    sweep,
    wire(seams) {
      Object.assign(wired, seams);
    },
    async startWorker() {
      const handle = await options.queues.startWorker(APPROVALS_QUEUE, async () => sweep(), { concurrency: 1 });
      await jobSchedulersOn(options.queues, APPROVALS_QUEUE).upsert(
        SWEEP_SCHEDULER,
        { every: options.sweepMs ?? 30_000 },
        { name: "deadline-sweep", data: {} },
      );
      return handle;
    },
  };
}
