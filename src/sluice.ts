import { createLogger } from "./adapters/log/pino.ts";

// The CLI builds its logger before the instance (pretty on a terminal): the root hands it the adapter.
export { createLogger };
import { createPrometheusMetrics, type PrometheusMetrics } from "./adapters/metrics/prometheus.ts";
import type { QueueBackend } from "./adapters/queue/index.ts";
import { createProvidersFromConfig } from "./adapters/provider/from-config.ts";
import { loadConfig, type SluiceConfig } from "./core/config.ts";
import type { Logger } from "./core/logger.ts";
import { createActions, type ActionDefinition, type Actions } from "./pipeline/actions/index.ts";
import type { Accounting, Budgets } from "./pipeline/accounting/index.ts";
import { createQueueAdmin, type QueueAdmin } from "./pipeline/admin/queue-admin.ts";
import type { Approvals } from "./pipeline/approvals/index.ts";
import { createAuditLog, type AuditLog } from "./pipeline/audit/audit-log.ts";
import type { ResultCache } from "./pipeline/cache/index.ts";
import type { EmbeddingsService } from "./pipeline/embeddings/index.ts";
import type { KillSwitches, RuntimeFlags } from "./pipeline/flags/index.ts";
import { HealthRegistry } from "./pipeline/health.ts";
import { createIntake, type Intake } from "./pipeline/intake/index.ts";
import { createAdmission } from "./pipeline/jobs/admission.ts";
import type { JobsService } from "./pipeline/jobs/jobs-service.ts";
import { migrate, type MigrateResult } from "./pipeline/migrator.ts";
import { createAuditRetention } from "./pipeline/ops/audit-retention.ts";
import { queueDefaultsFromConfig } from "./pipeline/queues/defaults.ts";
import { createQueueManager, type QueueManager } from "./pipeline/queues/queue-manager.ts";
import type { WorkerHandle } from "./pipeline/queues/types.ts";
import { createWorkerRegistry, type WorkerRegistry } from "./pipeline/queues/worker-registry.ts";
import type { PipelineDefinition, Runs, RunView } from "./pipeline/runs/index.ts";
import { createLlmHealthCheck, createProviderRuntime, runtimeOptionsFromConfig, type ProviderRuntime } from "./pipeline/runtime/index.ts";
import type { ScheduleDefinition, ScheduleJson, Schedules } from "./pipeline/schedules/index.ts";
import type { TaskDefinition, TaskHandler, TaskRegistry } from "./pipeline/tasks/registry.ts";
import { createWebhooks, type Webhooks } from "./pipeline/webhooks/index.ts";
import type { Kv } from "./ports/kv.ts";
import type { Store } from "./ports/store.ts";
import { openAgentic } from "./root/agentic.ts";
import { openEmbeddings } from "./root/embeddings.ts";
import { builtinTaskRegistry, openJobs } from "./root/jobs.ts";
import { declareQueues } from "./root/queues.ts";
import { openSteering } from "./root/steering.ts";
import { startWorkers, type WorkerServices } from "./root/workers.ts";
import { openFleetReports, openKv, openLimitCounters, openQueueBackend, openSqlSocket, openStore, registerCoreChecks } from "./wiring.ts";

// Each area is wired in src/root/, one module per area; here the areas are put together.
export { BATCH_QUEUE, DEFAULT_QUEUE } from "./root/queues.ts";

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
    const providerList = await createProvidersFromConfig(config);
    const providers = providerList.map((p) => p.name);
    const runtime = createProviderRuntime({
      ...runtimeOptionsFromConfig(config),
      providers: providerList,
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
      providers,
    });
    closers.push(
      async () => killSwitches.stop(),
      () => accounting.close(),
      () => cache.close(),
    );
    const workers = createWorkerRegistry({ queues, reports: openFleetReports(redis, store), flags, logger });
    closers.push(() => workers.close());
    const actions = createActions({ config, store, flags, audit, logger, metrics });
    const tasks = builtinTaskRegistry(config, runtime, { cache, accounting, providers });
    const admission = createAdmission({ killSwitches, budgets, recheckMs: config.flags.recheckMs });
    const webhooks = createWebhooks({ store, queues, config, logger, metrics });
    const { jobIndex, jobs } = openJobs({ store, queues, intake, tasks, admission, webhooks, logger });
    const embeddings = await openEmbeddings(config, { store, queues, runtime, flags, metrics, logger });
    closers.push(() => embeddings.close());
    const onRunSettled = options.onRunSettled;
    const agenticDeps = { store, queues, tasks, audit, metrics, logger, actions, jobs, webhooks, admission, onRunSettled };
    const { runs, approvals, schedules } = openAgentic(config, agenticDeps);
    const health = new HealthRegistry();
    registerCoreChecks(health, { store, redis, queues: queueBackend, config });
    // Each process publishes its provider view so that any one (the API too) answers /health/llm for the fleet.
    const llmHealth = createLlmHealthCheck(runtime, {
      fleet: { reports: openFleetReports(redis, store), logger: logger.child({ component: "llm-health" }) },
    });
    health.register(llmHealth);
    closers.push(() => llmHealth.close());
    const workerServices: WorkerServices = {
      config,
      logger,
      metrics,
      queues,
      tasks,
      admission,
      jobIndex,
      workers,
      webhooks,
      auditRetention,
      embeddings,
      runs,
      approvals,
      schedules,
    };

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
      startWorkers: (workerOptions) => startWorkers(workerServices, workerOptions),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
