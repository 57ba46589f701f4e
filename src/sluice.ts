import { resolve } from "node:path";
import { createLogger } from "./adapters/log/pino.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "./adapters/metrics/prometheus.ts";
import { createPgStore } from "./adapters/store/pg/store.ts";
import { createPgliteStore } from "./adapters/store/pglite/store.ts";
import { loadConfig, type SluiceConfig } from "./core/config.ts";
import type { Logger } from "./core/logger.ts";
import { createPostgresKv } from "./adapters/kv/postgres/kv.ts";
import { createRedisKv } from "./adapters/kv/redis/kv.ts";
import { createAuditLog, type AuditLog } from "./pipeline/audit/audit-log.ts";
import { HealthRegistry, type CheckResult } from "./pipeline/health.ts";
import { createIntake, type Intake } from "./pipeline/intake/index.ts";
import type { Kv } from "./ports/kv.ts";
import { migrate, type MigrateResult } from "./pipeline/migrator.ts";
import type { Store } from "./ports/store.ts";

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
  readonly migrations: MigrateResult | undefined;
  close(): Promise<void>;
}

/** Idempotency must never be evicted: it lives on the queue Redis (noeviction), not CACHE_REDIS_URL. */
function openKv(config: SluiceConfig, store: Store): Kv {
  if (config.redis.url) return createRedisKv({ url: config.redis.url });
  return createPostgresKv({ store });
}

async function redisCheck(kv: Kv): Promise<CheckResult> {
  if (kv.kind !== "redis") return { ok: true, configured: false, connected: false, message: "REDIS_URL is not set; Sluice uses its database instead" };
  const client = (kv as ReturnType<typeof createRedisKv>).client;
  await client.ping();
  const reply = (await client.config("GET", "maxmemory-policy"));
  return { ok: true, connected: true, maxmemory_policy: reply[1] ?? "unknown" };
}

function openStore(config: SluiceConfig): Promise<Store> | Store {
  if (config.storage.databaseUrl) return createPgStore({ connectionString: config.storage.databaseUrl, poolSize: config.storage.poolSize });
  return createPgliteStore({ dataDir: resolve(config.storage.dataDir, "pgdata") });
}

export async function createSluice(options: SluiceOptions = {}): Promise<Sluice> {
  const config = options.config ?? loadConfig(options.env);
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const metrics = createPrometheusMetrics();
  const store = await openStore(config);
  const health = new HealthRegistry();
  const closers: Array<() => Promise<void>> = [() => store.close()];

  try {
    const migrations = options.migrate === false ? undefined : await migrate(store, { requireVector: config.embeddings.vectorSearchEnabled });
    if (migrations && migrations.applied.length > 0) logger.info({ component: "migrator", applied: migrations.applied }, "migrations applied");

    const kv = openKv(config, store);
    closers.push(() => kv.close());
    const intake = createIntake({ store, kv, config, logger: logger.child({ component: "intake" }) });
    const audit = createAuditLog(store);

    health.register({ name: "redis", required: Boolean(config.redis.url), run: () => redisCheck(kv) });
    health.register({
      name: "db",
      required: true,
      run: async () => {
        await store.ping();
        return { ok: true, connected: true, engine: store.kind };
      },
    });

    return {
      config,
      logger,
      metrics,
      store,
      health,
      kv,
      intake,
      audit,
      migrations,
      async close() {
        for (const close of closers.reverse()) await close().catch((err: unknown) => logger.error({ err }, "close failed"));
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}
