import { createLogger } from "./adapters/log/pino.ts";

// The CLI builds its logger before the instance (pretty on a terminal): the root hands it the adapter.
export { createLogger };
import { createPrometheusMetrics, type PrometheusMetrics } from "./adapters/metrics/prometheus.ts";
import type { QueueBackend } from "./adapters/queue/index.ts";
import { loadConfig, type SluiceConfig } from "./core/config.ts";
import type { Logger } from "./core/logger.ts";
import { createAuditLog, type AuditLog } from "./pipeline/audit/audit-log.ts";
import { createQueueAdmin, type QueueAdmin } from "./pipeline/admin/queue-admin.ts";
import { createAuditRetention, MAINTENANCE_QUEUE } from "./pipeline/ops/audit-retention.ts";
import { HealthRegistry } from "./pipeline/health.ts";
import { createIntake, type Intake } from "./pipeline/intake/index.ts";
import { createJobsService, type JobsService } from "./pipeline/jobs/jobs-service.ts";
import { createJobIndex } from "./pipeline/jobs/job-index.ts";
import { startTaskWorkers } from "./pipeline/jobs/task-workers.ts";
import { createAdmission } from "./pipeline/jobs/admission.ts";
import { TaskRegistry, type TaskDefinition, type TaskHandler } from "./pipeline/tasks/registry.ts";
import { migrate, type MigrateResult } from "./pipeline/migrator.ts";
import { createLlmHealthCheck, createProviderRuntime, runtimeOptionsFromConfig, type ProviderRuntime } from "./pipeline/runtime/index.ts";
import { BUILTIN_TASK_NAMES, builtinTasks } from "./pipeline/tasks/builtin.ts";
import { APPROVALS_QUEUE, createApprovals, type Approvals } from "./pipeline/approvals/index.ts";
import {
  createSchedules,
  SCHEDULES_QUEUE,
  type ScheduleDefinition,
  type ScheduleJson,
  type Schedules,
  type StartRun,
} from "./pipeline/schedules/index.ts";
import type { ActionExecutor, WaitingStepResumer } from "./pipeline/runs/contracts.ts";
import { createRuns, RUNS_QUEUE, type PipelineDefinition, type Runs, type RunView } from "./pipeline/runs/index.ts";
import { createAccounting, createBudgets, createPriceTable, type Accounting, type Budgets } from "./pipeline/accounting/index.ts";
import { createResultCache, type ResultCache } from "./pipeline/cache/index.ts";
import { createEmbeddingsService, type EmbeddingsService } from "./pipeline/embeddings/index.ts";
import {
  createKillSwitches,
  createRuntimeFlags,
  flagDefaultsFromConfig,
  type KillSwitches,
  type RuntimeFlags,
} from "./pipeline/flags/index.ts";
import { createActions, type ActionDefinition, type Actions } from "./pipeline/actions/index.ts";
import { createProvidersFromConfig } from "./adapters/provider/from-config.ts";
import { classifyByRules } from "./adapters/provider/local/rules.ts";
import { queueDefaultsFromConfig } from "./pipeline/queues/defaults.ts";
import { createQueueManager, type QueueManager } from "./pipeline/queues/queue-manager.ts";
import type { WorkerHandle } from "./pipeline/queues/types.ts";
import { createWorkerRegistry, type WorkerRegistry } from "./pipeline/queues/worker-registry.ts";
import { createWebhooks, WEBHOOKS_QUEUE, type Webhooks } from "./pipeline/webhooks/index.ts";
import type { Kv } from "./ports/kv.ts";
import type { Store } from "./ports/store.ts";
import {
  openFleetReports,
  openCacheEngine,
  openKv,
  openLimitCounters,
  openQueueBackend,
  openSqlSocket,
  openStore,
  registerCoreChecks,
} from "./wiring.ts";

/** The queue `POST /ai/jobs` uses when neither the request nor the task names one. */
export const DEFAULT_QUEUE = "ai-jobs";
/** The embeddings backfill's queue, named as runbook 000 knows it. */
export const BATCH_QUEUE = "ai-batch-queue";

export interface SluiceOptions {
  /** A parsed config; when absent it is loaded from `env`. */
  config?: SluiceConfig;
  /** Environment to parse when `config` is absent. @default process.env */
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Apply pending migrations at start. @default true */
  migrate?: boolean;
  /** Called once per pipeline run when it completes, fails or is cancelled (completion webhooks). */
  onRunSettled?: (run: RunView) => Promise<void>;
}

/**
 * One Sluice instance: the adapters chosen by the config, wired to the pipeline. The server and
 * the CLI are thin shells around it; library users build one with `createSluice()`.
 */
export interface Sluice {
  readonly config: SluiceConfig;
  readonly logger: Logger;
  readonly metrics: PrometheusMetrics;
  readonly store: Store;
  readonly health: HealthRegistry;
  /** Idempotency records and rate-limit counters: Redis on `REDIS_URL` when set, else the store. */
  readonly kv: Kv;
  readonly intake: Intake;
  readonly audit: AuditLog;
  readonly queueBackend: QueueBackend;
  readonly queues: QueueManager;
  /** Queue operations as operators run them (admin API, CLI): each mutation audited. */
  readonly queueAdmin: QueueAdmin;
  readonly tasks: TaskRegistry;
  /** Provider calls with limits, retries, breaker and fallbacks. */
  readonly runtime: ProviderRuntime;
  readonly jobs: JobsService;
  /** Runtime flags (kill switches and others) over `runtime_flags`, each process re-reading within `FLAGS_CACHE_MS`. */
  readonly flags: RuntimeFlags;
  /** Task-type and provider kill switches over `flags`. */
  readonly killSwitches: KillSwitches;
  /** Result cache of deterministic built-in task calls. */
  readonly cache: ResultCache;
  /** Tokens and cost per workspace/provider/model per day (`ai_usage_daily`). */
  readonly accounting: Accounting;
  /** Daily token budgets per workspace. */
  readonly budgets: Budgets;
  /** Actions: the registry (built-ins and `sluice.action()`), the policy gate and the at-most-once ledger. */
  readonly actions: Actions;
  /** Registers an action (see `defineAction`) that pipelines' `step.action` and POST /api/actions/{name}/execute can run. */
  action<A, R>(definition: ActionDefinition<A, R>): void;
  /** Embeddings: bulk ingest, vector search, the backfill worker on `ai-batch-queue` and its operations. */
  readonly embeddings: EmbeddingsService;
  readonly migrations: MigrateResult | undefined;
  /** Signed completion webhooks of jobs and runs: workspace settings, the delivery log, redelivery. */
  readonly webhooks: Webhooks;
  /** Human approvals: the inbox, decisions (audited, resuming the waiting run), deadlines, archive. */
  readonly approvals: Approvals;
  /** Cron schedules of tasks and pipelines on BullMQ job schedulers. */
  readonly schedules: Schedules;
  /** Declares a schedule in code: `sluice.schedule({ name, cron, tz, target: { kind: "task", name, input, workspace } })`. */
  schedule(definition: ScheduleDefinition): Promise<ScheduleJson>;
  /** Pipelines and their durable runs: start, read, cancel, replay, events, entity state. */
  readonly runs: Runs;
  /** Registers a pipeline (see `definePipeline`) so runs can start and workers execute it. */
  pipeline<I, O>(definition: PipelineDefinition<I, O>): void;
  /** Registers a task type that jobs can name; it gets the same queues, retries and metrics as the built-ins. */
  task<I, O>(name: string, handler: TaskHandler<I, O>, options?: Omit<TaskDefinition<I, O>, "name" | "handler">): void;
  /** Worker processes of the fleet as each registers itself (host, pid, queues, concurrency, active); runtime concurrency overrides. */
  readonly workers: WorkerRegistry;
  /**
   * Starts workers for the queues this process serves (WORKER_QUEUES, else every queue) and
   * registers the process in `workers` under `role`. @default role "worker"
   */
  startWorkers(options?: { concurrency?: number; role?: string }): Promise<WorkerHandle[]>;
  close(): Promise<void>;
}

function declareQueues(queues: QueueManager, config: SluiceConfig): void {
  const grouped = Object.values(config.queue.groups).flat();
  for (const name of new Set([DEFAULT_QUEUE, BATCH_QUEUE, ...config.queue.extraQueues, ...grouped, ...config.queue.workerQueues]))
    queues.declare(name);
}

/** Flags, kill switches, result cache, accounting and budgets: what operators steer at run time. */
async function openSteering(
  config: SluiceConfig,
  deps: { store: Store; audit: AuditLog; metrics: PrometheusMetrics; logger: Logger; runtime: ProviderRuntime; providers: string[] },
): Promise<{ flags: RuntimeFlags; killSwitches: KillSwitches; cache: ResultCache; accounting: Accounting; budgets: Budgets }> {
  const { store, audit, metrics, runtime } = deps;
  const logger = deps.logger.child({ component: "steering" });
  const defaults = flagDefaultsFromConfig(config, { tasks: Object.values(BUILTIN_TASK_NAMES), providers: deps.providers });
  const flags = createRuntimeFlags({ store, audit, defaults, cacheMs: config.flags.cacheMs, logger });
  const killSwitches = createKillSwitches({ flags, runtime, providers: deps.providers, recheckMs: config.flags.recheckMs, logger });
  await killSwitches.syncProviders();
  killSwitches.start(Math.max(500, config.flags.cacheMs));
  const prices = createPriceTable(config.ai.prices, (route) =>
    logger.warn({ route }, "no price for this provider/model: its cost is counted as 0 (set AI_PRICES)"),
  );
  const accounting = createAccounting({ store, metrics, prices, logger });
  const budgets = createBudgets({
    store,
    accounting,
    audit,
    defaultDailyTokens: config.budgets.workspaceDailyTokens,
    cacheMs: config.flags.cacheMs,
  });
  const cache = createResultCache({
    engine: openCacheEngine(config),
    metrics,
    logger,
    ttlSeconds: config.cache.ttlSeconds,
    enabled: config.cache.enabled,
  });
  return { flags, killSwitches, cache, accounting, budgets };
}

export async function createSluice(options: SluiceOptions = {}): Promise<Sluice> {
  const config = options.config ?? loadConfig(options.env);
  const logger = options.logger ?? createLogger({ level: config.log.level, file: config.log.file });
  const metrics = createPrometheusMetrics();
  const { store, pglite, pool } = await openStore(config);
  const closers: Array<() => Promise<void>> = [() => store.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((err: unknown) => logger.error({ err }, "close failed"));
  };

  try {
    const migrations =
      options.migrate === false ? undefined : await migrate(store, { requireVector: config.embeddings.vectorSearchEnabled });
    if (migrations && migrations.applied.length > 0)
      logger.info({ component: "migrator", applied: migrations.applied }, "migrations applied");

    const closeSqlSocket = await openSqlSocket(config, pglite, logger);
    if (closeSqlSocket) closers.push(closeSqlSocket);
    const { kv, redis } = openKv(config, store);
    const limits = openLimitCounters({ redis, pool });
    closers.push(() => kv.close());
    const queueBackend = await openQueueBackend(config, pglite, logger);
    closers.push(() => queueBackend.close());
    const queues = createQueueManager({ backend: queueBackend, metrics, logger, defaults: queueDefaultsFromConfig(config.queue) });
    closers.push(() => queues.close());
    declareQueues(queues, config);

    const intake = createIntake({ store, kv, limits, config, logger: logger.child({ component: "intake" }) });
    const audit = createAuditLog(store);
    const queueAdmin = createQueueAdmin(queues, audit, { thresholds: config.queue.thresholds, groups: config.queue.groups });
    const auditRetention = createAuditRetention({
      store,
      audit,
      queues,
      logger,
      retentionDays: config.audit.retentionDays,
      everyMs: config.audit.archiveIntervalMs,
    });
    const providers = await createProvidersFromConfig(config);
    const runtime = createProviderRuntime({
      ...runtimeOptionsFromConfig(config),
      providers,
      metrics,
      logger: logger.child({ component: "runtime" }),
      limitCounters: limits,
      ...(redis ? { publishTo: kv } : {}),
    });
    closers.push(() => runtime.close());
    const { flags, killSwitches, cache, accounting, budgets } = await openSteering(config, {
      store,
      audit,
      metrics,
      logger,
      runtime,
      providers: providers.map((p) => p.name),
    });
    closers.push(
      async () => killSwitches.stop(),
      () => accounting.close(),
      () => cache.close(),
    );
    const workers = createWorkerRegistry({ queues, reports: openFleetReports(redis, store), flags, logger });
    closers.push(() => workers.close());
    const actions = createActions({ config, store, flags, audit, logger, metrics });
    const tasks = new TaskRegistry();
    const { ai } = config;
    const defaults = {
      provider: ai.provider,
      model: ai.model,
      maxOutputTokens: ai.maxOutputTokens,
      embeddingProvider: ai.embeddingProvider,
      embeddingModel: ai.embeddingModel,
      embeddingDimensions: ai.embeddingDimensions,
    };
    for (const task of builtinTasks(runtime, {
      cache,
      accounting,
      defaults,
      allowedModels: ai.allowedModels,
      providers: providers.map((p) => p.name),
      ruleClassifier: classifyByRules,
    }))
      tasks.register(task);
    const admission = createAdmission({ killSwitches, budgets, recheckMs: config.flags.recheckMs });
    const webhooks = createWebhooks({ store, queues, config, logger, metrics });
    const jobIndex = createJobIndex(store, logger.child({ component: "job-index" }));
    const jobs = createJobsService({
      index: jobIndex,
      queues,
      intake,
      tasks,
      defaultQueue: DEFAULT_QUEUE,
      internalQueues: [BATCH_QUEUE, APPROVALS_QUEUE, SCHEDULES_QUEUE, RUNS_QUEUE, WEBHOOKS_QUEUE, MAINTENANCE_QUEUE],
      admit: admission.atIntake,
      checkCallback: webhooks.checkTarget,
      logger: logger.child({ component: "jobs" }),
    });
    const { openai } = config.ai;
    // Imported only when configured: the OpenAI SDK is a large load on every start.
    const batchApi =
      openai.apiKey || openai.baseUrl
        ? (await import("./adapters/provider/openai/batch-api.ts")).createOpenAIBatchApi({ apiKey: openai.apiKey, baseURL: openai.baseUrl })
        : undefined;
    const embeddings = await createEmbeddingsService({
      store,
      queues,
      runtime,
      flags,
      metrics,
      logger,
      config,
      queue: BATCH_QUEUE,
      ...(batchApi ? { batchApi } : {}),
    });
    closers.push(() => embeddings.close());
    // A settled run's completion webhooks (workspace default URL), then the library user's own hook.
    const onRunSettled = async (run: RunView): Promise<void> => {
      await webhooks.runSettled(run);
      await options.onRunSettled?.(run);
    };
    const runs = createRuns({
      store,
      queues,
      tasks,
      audit,
      logger,
      gate: admission.beforeRun,
      onRunSettled,
      checkCallback: webhooks.checkTarget,
      eventRetentionMs: config.runs.eventRetentionMs,
      maxWaitMs: config.ai.maxWaitForProviderMs,
      metrics,
    });
    // Runs, actions and approvals are built apart and meet here: each side reads the others late.
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
    seams.startRun = (request) => runs.start(request);
    runs.attach({ approvals, actions: () => seams.actions });
    const health = new HealthRegistry();
    registerCoreChecks(health, { store, redis, queues: queueBackend, config });
    // Each process publishes its provider view so that any one (the API too) answers /health/llm for the fleet.
    const llmHealth = createLlmHealthCheck(runtime, {
      fleet: { reports: openFleetReports(redis, store), logger: logger.child({ component: "llm-health" }) },
    });
    health.register(llmHealth);
    closers.push(() => llmHealth.close());

    return {
      config,
      logger,
      metrics,
      store,
      health,
      kv,
      intake,
      audit,
      queueBackend,
      queues,
      queueAdmin,
      workers,
      tasks,
      runtime,
      jobs,
      flags,
      killSwitches,
      cache,
      accounting,
      budgets,
      actions,
      action: (definition) => actions.register(definition),
      embeddings,
      migrations,
      webhooks,
      approvals,
      schedules,
      schedule: (definition) => schedules.declare(definition),
      runs,
      pipeline(definition) {
        runs.register(definition as PipelineDefinition);
      },
      task(name, handler, taskOptions = {}) {
        tasks.register({ name, handler, ...taskOptions });
        if (taskOptions.queue && !queues.has(taskOptions.queue)) queues.declare(taskOptions.queue);
      },
      async startWorkers({ role = "worker", ...workerOptions } = {}) {
        // WORKER_QUEUES: this process serves those queues and no other, the built-in ones included.
        const serves = (queue: string) => config.queue.workerQueues.length === 0 || config.queue.workerQueues.includes(queue);
        const concurrencyOf = (queue: string) => workerOptions.concurrency ?? config.queue.workerConcurrency[queue];
        const builtIn = [BATCH_QUEUE, APPROVALS_QUEUE, SCHEDULES_QUEUE, RUNS_QUEUE, WEBHOOKS_QUEUE, MAINTENANCE_QUEUE];
        const handles = await startTaskWorkers({
          queues,
          tasks,
          logger,
          metrics,
          names: queues.names().filter(serves),
          exclude: builtIn,
          gate: admission.beforeRun,
          onSettled: async (outcome) => {
            const { envelope } = outcome;
            await jobIndex.settle({
              workspaceId: envelope.workspace,
              jobId: outcome.id,
              queue: outcome.queue,
              type: envelope.type,
              state: outcome.status,
              createdMs: outcome.createdMs,
            });
            await webhooks.jobSettled(outcome);
          },
          maxWaitMs: config.ai.maxWaitForProviderMs,
          concurrencyOf,
        });
        if (serves(APPROVALS_QUEUE)) handles.push(await approvals.startWorker());
        if (serves(SCHEDULES_QUEUE)) handles.push(await schedules.startWorker());
        if (serves(WEBHOOKS_QUEUE)) handles.push(await webhooks.startWorker());
        if (serves(MAINTENANCE_QUEUE)) handles.push(await auditRetention.startWorker());
        const backfill = serves(BATCH_QUEUE) ? await embeddings.startWorker() : undefined;
        if (backfill) handles.push(backfill);
        const runConcurrency = concurrencyOf(RUNS_QUEUE);
        if (serves(RUNS_QUEUE)) handles.push(await runs.startWorker(runConcurrency ? { concurrency: runConcurrency } : {}));
        workers.start(role);
        return handles;
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
