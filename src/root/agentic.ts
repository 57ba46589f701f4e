import type { PrometheusMetrics } from "../adapters/metrics/prometheus.ts";
import type { SluiceConfig } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { Actions } from "../pipeline/actions/index.ts";
import { createApprovals, type Approvals } from "../pipeline/approvals/index.ts";
import type { AuditLog } from "../pipeline/audit/audit-log.ts";
import type { Admission } from "../pipeline/jobs/admission.ts";
import type { JobsService } from "../pipeline/jobs/jobs-service.ts";
import type { QueueManager } from "../pipeline/queues/queue-manager.ts";
import type { ActionExecutor, WaitingStepResumer } from "../pipeline/runs/contracts.ts";
import { createRuns, type Runs, type RunView } from "../pipeline/runs/index.ts";
import { createSchedules, type Schedules, type StartRun } from "../pipeline/schedules/index.ts";
import type { TaskRegistry } from "../pipeline/tasks/registry.ts";
import type { Webhooks } from "../pipeline/webhooks/index.ts";
import type { Store } from "../ports/store.ts";

/**
 * Runs, actions, approvals and schedules: the agentic side. Each is built apart, against the
 * contracts in pipeline/runs/contracts.ts, and they meet here.
 */
export interface AgenticDeps {
  store: Store;
  queues: QueueManager;
  tasks: TaskRegistry;
  audit: AuditLog;
  metrics: PrometheusMetrics;
  logger: Logger;
  actions: Actions;
  jobs: JobsService;
  webhooks: Webhooks;
  admission: Admission;
  /** The library user's hook, called after the run's completion webhooks. */
  onRunSettled?: ((run: RunView) => Promise<void>) | undefined;
}

export interface Agentic {
  runs: Runs;
  approvals: Approvals;
  schedules: Schedules;
}

function openRuns(config: SluiceConfig, deps: AgenticDeps): Runs {
  const { webhooks } = deps;
  // A settled run's completion webhooks (workspace default URL), then the library user's own hook.
  const onRunSettled = async (run: RunView): Promise<void> => {
    await webhooks.runSettled(run);
    await deps.onRunSettled?.(run);
  };
  return createRuns({
    store: deps.store,
    queues: deps.queues,
    tasks: deps.tasks,
    audit: deps.audit,
    logger: deps.logger,
    gate: deps.admission.beforeRun,
    onRunSettled,
    checkCallback: webhooks.checkTarget,
    eventRetentionMs: config.runs.eventRetentionMs,
    leaseMs: config.runs.leaseMs,
    maxWaitMs: config.ai.maxWaitForProviderMs,
    metrics: deps.metrics,
  });
}

/** Actions waiting on a human: their approval tasks, and a direct resolution closing its task (or waking its run). */
function connectActionsToApprovals(actions: Actions, approvals: Approvals, runs: Runs): void {
  // A decided `action.unknown` task settles its execution at the next call with the key (docs/actions.md).
  actions.executor.useApprovals(approvals, async (workspace, id) => {
    const task = await approvals.get(workspace, id).catch(() => undefined);
    return task ? { status: task.status, decidedBy: task.decided_by, reason: task.reason } : undefined;
  });
  // Resolved directly (not on its task): the task is closed with the same decision, which wakes the run.
  actions.executor.onResolved(async (row, decidedBy, reason) => {
    if (row.approval_id) {
      const closed = await approvals
        .decide(
          { actor: decidedBy, workspaceId: row.workspace_id },
          row.approval_id,
          row.resolution !== "skip",
          reason ?? `execution resolved: ${row.resolution ?? ""}`,
        )
        .catch(() => undefined);
      if (closed) return;
    }
    if (row.run_id && row.step_name) await runs.resumer.wakeWaitingStep({ runId: row.run_id, stepName: row.step_name });
  });
}

export function openAgentic(config: SluiceConfig, deps: AgenticDeps): Agentic {
  const { store, queues, audit, metrics, logger, actions, jobs, tasks } = deps;
  const runs = openRuns(config, deps);
  // Each side reads the others late, through these seams, filled once all are built.
  const seams: { resumer?: WaitingStepResumer; actions?: ActionExecutor; startRun?: StartRun } = {};
  const approvals = createApprovals({
    store,
    queues,
    audit,
    metrics,
    logger,
    defaultSlaSeconds: config.approvals.defaultSlaSeconds,
    sweepMs: config.approvals.sweepMs,
    resumer: () => seams.resumer,
    actions: () => seams.actions,
  });
  const schedules = createSchedules({
    store,
    queues,
    audit,
    metrics,
    logger,
    submitJob: (principal, request) => jobs.submit(principal, request),
    taskExists: (type) => tasks.names().includes(type),
    startRun: () => seams.startRun,
    staleAfterSeconds: config.schedules.staleAfterSeconds,
  });
  seams.resumer = runs.resumer;
  seams.actions = actions.executor;
  connectActionsToApprovals(actions, approvals, runs);
  seams.startRun = (request) => runs.start(request);
  runs.attach({ approvals, actions: () => seams.actions });
  return { runs, approvals, schedules };
}
