import { resolve } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import type { Redis } from "ioredis";
import type pg from "pg";
import { createRedisFleetReports } from "./adapters/fleet/redis.ts";
import { createSqlFleetReports } from "./adapters/fleet/sql.ts";
import { createMemoryCacheEngine } from "./adapters/cache/memory/engine.ts";
import { createRedisCacheEngine } from "./adapters/cache/redis/engine.ts";
import { createPostgresKv } from "./adapters/kv/postgres/kv.ts";
import { createRedisKv } from "./adapters/kv/redis/kv.ts";
import { createMemoryLimitCounters } from "./adapters/limits/memory/counters.ts";
import { createPostgresLimitCounters } from "./adapters/limits/postgres/counters.ts";
import { createRedisLimitCounters } from "./adapters/limits/redis/counters.ts";
import { createQueueBackend, type QueueBackend } from "./adapters/queue/index.ts";
import { createPgStore } from "./adapters/store/pg/store.ts";
import { createPgliteStore } from "./adapters/store/pglite/store.ts";
import type { SluiceConfig } from "./core/config.ts";
import type { Logger } from "./core/logger.ts";
import type { CheckResult, HealthRegistry } from "./pipeline/health.ts";
import type { FleetReports } from "./ports/fleet-reports.ts";
import type { CacheEngine } from "./ports/cache.ts";
import type { Kv } from "./ports/kv.ts";
import type { LimitCounters } from "./ports/limits.ts";
import type { Store } from "./ports/store.ts";

/** How the config's choices become adapters: the only place that knows which engine is in use. */
/** The store, and the engine handle behind it that other adapters share (PGlite instance or pg pool). */
export interface OpenedStore {
  store: Store;
  pglite: PGlite | undefined;
  pool: pg.Pool | undefined;
}

export async function openStore(config: SluiceConfig): Promise<OpenedStore> {
  if (config.storage.databaseUrl) {
    const store = createPgStore({ connectionString: config.storage.databaseUrl, poolSize: config.storage.poolSize });
    return { store, pglite: undefined, pool: store.pool };
  }
  const store = await createPgliteStore({ dataDir: resolve(config.storage.dataDir, "pgdata") });
  return { store, pglite: store.db, pool: undefined };
}

/** Embedded mode with `SLUICE_SQL_PORT`: the PGlite on a loopback PostgreSQL socket; returns its closer. */
export async function openSqlSocket(
  config: SluiceConfig,
  pglite: PGlite | undefined,
  logger: Logger,
): Promise<(() => Promise<void>) | undefined> {
  if (!pglite || config.sql.port === 0 || !config.sql.password) return undefined;
  const { startSqlSocket } = await import("./adapters/store/pglite/sql-socket.ts");
  const socket = await startSqlSocket({ db: pglite, port: config.sql.port, password: config.sql.password });
  logger.info(
    { component: "sql-socket", port: socket.port },
    "embedded database served on a loopback PostgreSQL socket (sluice sql, psql)",
  );
  return () => socket.close();
}

/** Where processes publish their views for each other (`/health/llm`): Redis when configured, else the store. */
export function openFleetReports(redis: Redis | undefined, store: Store): FleetReports {
  return redis ? createRedisFleetReports({ client: redis }) : createSqlFleetReports({ store });
}

/** Redis on `CACHE_REDIS_URL` (else `REDIS_URL`) when set, else the in-process LRU. */
export function openCacheEngine(config: SluiceConfig): CacheEngine {
  const prefix = config.cache.keyPrefix.endsWith(":") ? config.cache.keyPrefix : `${config.cache.keyPrefix}:`;
  if (config.redis.cacheUrl)
    return createRedisCacheEngine({ url: config.redis.cacheUrl, keyPrefix: prefix, commandTimeoutMs: config.redis.commandTimeoutMs });
  return createMemoryCacheEngine({ maxEntries: config.cache.maxEntries });
}

/** Idempotency must never be evicted: it lives on the queue Redis (noeviction), not CACHE_REDIS_URL. */
export function openKv(config: SluiceConfig, store: Store): { kv: Kv; redis: Redis | undefined } {
  if (!config.redis.url) return { kv: createPostgresKv({ store }), redis: undefined };
  const kv = createRedisKv({ url: config.redis.url, commandTimeoutMs: config.redis.commandTimeoutMs });
  return { kv, redis: kv.client };
}

/**
 * One place for every rate-limit counter (intake, read budgets, auth throttle, provider RPM/TPM): the
 * queue Redis when there is one, else the PostgreSQL server, else this process (embedded: one process).
 */
export function openLimitCounters(engines: { redis: Redis | undefined; pool: pg.Pool | undefined }): LimitCounters {
  if (engines.redis) return createRedisLimitCounters(engines.redis);
  if (engines.pool) return createPostgresLimitCounters(engines.pool);
  return createMemoryLimitCounters();
}

export function openQueueBackend(config: SluiceConfig, pglite: PGlite | undefined, logger?: Logger): Promise<QueueBackend> {
  const { queue, redis } = config;
  switch (queue.backend) {
    case "redis":
      return createQueueBackend({
        kind: "redis",
        url: redis.url ?? "",
        allowEviction: redis.allowEviction,
        evictionCheckIntervalMs: redis.evictionCheckMs,
        ...(logger ? { logger } : {}),
      });
    case "postgres":
      return createQueueBackend({
        kind: "postgres",
        connectionString: config.storage.databaseUrl ?? "",
        poolSize: config.storage.poolSize,
        concurrency: queue.concurrency,
      });
    case "pglite":
      if (!pglite) throw new Error("QUEUE_BACKEND=pglite needs the embedded store (unset DATABASE_URL)");
      return createQueueBackend({ kind: "pglite", db: pglite });
  }
}

async function redisCheck(redis: Redis | undefined, queues: QueueBackend): Promise<CheckResult> {
  if (queues.kind === "redis") {
    const health = await queues.health();
    const connected = health.reachable ?? health.ok;
    return {
      ok: health.ok,
      connected,
      ...(health.error ? { error: health.error } : {}),
      maxmemory_policy: health.eviction?.policy,
      eviction: health.eviction,
    };
  }
  if (!redis) return { ok: true, configured: false, connected: false, message: "REDIS_URL is not set; Sluice uses its database instead" };
  await redis.ping();
  return { ok: true, connected: true };
}

/** The dependency checks behind /ready and /health/<name>. */
export function registerCoreChecks(
  health: HealthRegistry,
  deps: { store: Store; redis: Redis | undefined; queues: QueueBackend; config: SluiceConfig },
): void {
  health.register({
    name: "db",
    required: true,
    run: async () => {
      await deps.store.ping();
      return { ok: true, connected: true, engine: deps.store.kind };
    },
  });
  health.register({ name: "redis", required: Boolean(deps.config.redis.url), run: () => redisCheck(deps.redis, deps.queues) });
  health.register({
    name: "queue",
    required: true,
    run: async () => {
      const h = await deps.queues.health();
      return { ok: h.ok, backend: h.kind, ...(h.error ? { error: h.error } : {}) };
    },
  });
}
