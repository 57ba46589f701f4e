import { createLogger } from "./adapters/log/pino.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "./adapters/metrics/prometheus.ts";
import type { QueueBackend } from "./adapters/queue/backend.ts";
import { loadConfig, type SluiceConfig } from "./core/config.ts";
import type { Logger } from "./core/logger.ts";
import { createAuditLog, type AuditLog } from "./pipeline/audit/audit-log.ts";
import { HealthRegistry } from "./pipeline/health.ts";
import { createIntake, type Intake } from "./pipeline/intake/index.ts";
import { createJobsService, type JobsService } from "./pipeline/jobs/jobs-service.ts";
import { startTaskWorkers } from "./pipeline/jobs/task-workers.ts";
import { TaskRegistry, type TaskDefinition, type TaskHandler } from "./pipeline/jobs/tasks.ts";
import { migrate, type MigrateResult } from "./pipeline/migrator.ts";
import { createLlmHealthCheck, createProviderRuntime, runtimeOptionsFromConfig, type ProviderRuntime } from "./pipeline/runtime/index.ts";
import { builtinTasks } from "./pipeline/tasks/builtin.ts";
import { createProvidersFromConfig } from "./adapters/provider/from-config.ts";
import type { RedisKv } from "./adapters/kv/redis/kv.ts";
import { queueDefaultsFromConfig } from "./pipeline/queues/defaults.ts";
import { createQueueManager, type QueueManager } from "./pipeline/queues/queue-manager.ts";
import type { WorkerHandle } from "./pipeline/queues/types.ts";
import type { Kv } from "./ports/kv.ts";
import type { Store } from "./ports/store.ts";
import { openKv, openQueueBackend, openStore, registerCoreChecks } from "./wiring.ts";

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
  readonly tasks: TaskRegistry;
  /** Provider calls with limits, retries, breaker and fallbacks. */
  readonly runtime: ProviderRuntime;
  readonly jobs: JobsService;
  readonly migrations: MigrateResult | undefined;
  /** Registers a task type that jobs can name; it gets the same queues, retries and metrics as the built-ins. */
  task<I, O>(name: string, handler: TaskHandler<I, O>, options?: Omit<TaskDefinition<I, O>, "name" | "handler">): void;
  /** Starts workers for the task queues (role `worker` or `all`). */
  startWorkers(options?: { concurrency?: number }): Promise<WorkerHandle[]>;
  close(): Promise<void>;
}

function declareQueues(queues: QueueManager, config: SluiceConfig): void {
  for (const name of [DEFAULT_QUEUE, BATCH_QUEUE, ...config.queue.extraQueues]) queues.declare(name);
}

export async function createSluice(options: SluiceOptions = {}): Promise<Sluice> {
  const config = options.config ?? loadConfig(options.env);
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const metrics = createPrometheusMetrics();
  const { store, pglite } = await openStore(config);
  const closers: Array<() => Promise<void>> = [() => store.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((err: unknown) => logger.error({ err }, "close failed"));
  };

  try {
    const migrations = options.migrate === false ? undefined : await migrate(store, { requireVector: config.embeddings.vectorSearchEnabled });
    if (migrations && migrations.applied.length > 0) logger.info({ component: "migrator", applied: migrations.applied }, "migrations applied");

    const kv = openKv(config, store);
    closers.push(() => kv.close());
    const queueBackend = await openQueueBackend(config, pglite);
    closers.push(() => queueBackend.close());
    const queues = createQueueManager({ backend: queueBackend, metrics, logger, defaults: queueDefaultsFromConfig(config.queue) });
    closers.push(() => queues.close());
    declareQueues(queues, config);

    const intake = createIntake({ store, kv, config, logger: logger.child({ component: "intake" }) });
    const audit = createAuditLog(store);
    const runtime = createProviderRuntime({
      ...runtimeOptionsFromConfig(config),
      providers: createProvidersFromConfig(config),
      metrics,
      logger: logger.child({ component: "runtime" }),
      ...(kv.kind === "redis" ? { redis: (kv as RedisKv).client } : {}),
    });
    closers.push(() => runtime.close());
    const tasks = new TaskRegistry();
    for (const task of builtinTasks(runtime)) tasks.register(task);
    const jobs = createJobsService({ queues, intake, tasks, defaultQueue: DEFAULT_QUEUE });
    const health = new HealthRegistry();
    registerCoreChecks(health, { store, kv, queues: queueBackend, config });
    health.register(createLlmHealthCheck(runtime));

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
      tasks,
      runtime,
      jobs,
      migrations,
      task(name, handler, taskOptions = {}) {
        tasks.register({ name, handler, ...taskOptions });
        if (taskOptions.queue && !queues.has(taskOptions.queue)) queues.declare(taskOptions.queue);
      },
      startWorkers: (workerOptions = {}) => startTaskWorkers({ queues, tasks, logger, exclude: [BATCH_QUEUE], ...workerOptions }),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
