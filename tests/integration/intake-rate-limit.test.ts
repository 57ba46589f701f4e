import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresKv } from "../../src/adapters/kv/postgres/kv.ts";
import { createRedisKv } from "../../src/adapters/kv/redis/kv.ts";
import { createPgStore } from "../../src/adapters/store/pg/store.ts";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import { createMemoryLimitCounters } from "../../src/adapters/limits/memory/counters.ts";
import { createPostgresLimitCounters } from "../../src/adapters/limits/postgres/counters.ts";
import { createRedisLimitCounters } from "../../src/adapters/limits/redis/counters.ts";
import type { LimitCounters } from "../../src/ports/limits.ts";
import { loadConfig } from "../../src/core/config.ts";
import { RateLimitedError, SluiceError } from "../../src/core/errors.ts";
import type { Kv } from "../../src/ports/kv.ts";
import type { Store } from "../../src/ports/store.ts";
import {
  createIntake,
  createWorkspaceRateLimiter,
  retryAfterSeconds,
  type Intake,
  type RateLimitDecision,
} from "../../src/pipeline/intake/index.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { freePort } from "../harness/servers.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

interface Opened {
  store: Store;
  kv: Kv;
  limits: LimitCounters;
  /** A second process's view: its own connections to the same counters (absent for memory). */
  second?: () => { store: Store; kv: Kv; limits: LimitCounters };
  cleanup(): Promise<void>;
}

interface Target {
  name: string;
  backend: "redis" | "postgres" | "memory";
  open: () => Promise<Opened>;
}

const targets: Target[] = [
  {
    name: "Redis (RateLimiterRedis)",
    backend: "redis",
    open: async () => {
      const url = await freshPostgresDatabase("intake_rl_redis");
      const store = createPgStore({ connectionString: url });
      await migrate(store, { requireVector: false });
      const kv = createRedisKv({ url: redisUrl(0) });
      const others: Kv[] = [];
      return {
        store,
        kv,
        limits: createRedisLimitCounters(kv.client),
        second: () => {
          const other = createRedisKv({ url: redisUrl(0) });
          others.push(other);
          return { store, kv: other, limits: createRedisLimitCounters(other.client) };
        },
        cleanup: async () => {
          await kv.deleteByPattern(`ai:ratelimit:${run}-*`);
          for (const k of [kv, ...others]) await k.close();
          await store.close();
        },
      };
    },
  },
  {
    name: "PostgreSQL server (RateLimiterPostgres)",
    backend: "postgres",
    open: async () => {
      const url = await freshPostgresDatabase("intake_rl_pg");
      const store = createPgStore({ connectionString: url, poolSize: 10 });
      await migrate(store, { requireVector: false });
      const others: Store[] = [];
      return {
        store,
        kv: createPostgresKv({ store }),
        limits: createPostgresLimitCounters(store.pool),
        second: () => {
          const other = createPgStore({ connectionString: url, poolSize: 5 });
          others.push(other);
          return { store: other, kv: createPostgresKv({ store: other }), limits: createPostgresLimitCounters(other.pool) };
        },
        cleanup: async () => {
          for (const s of [...others, store]) await s.close();
        },
      };
    },
  },
  {
    name: "PGlite (RateLimiterMemory)",
    backend: "memory",
    open: async () => {
      const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
      await migrate(store);
      return { store, kv: createPostgresKv({ store }), limits: createMemoryLimitCounters(), cleanup: () => store.close() };
    },
  },
];

// Workspaces are unique per run: the Redis counters live on the run's shared server.
const run = `rl-${process.pid}-${Date.now().toString(36)}`;

async function outcomes(promises: Promise<RateLimitDecision>[]): Promise<{ ok: number; limited: RateLimitedError[] }> {
  const settled = await Promise.allSettled(promises);
  const limited = settled.flatMap((s) => (s.status === "rejected" && s.reason instanceof RateLimitedError ? [s.reason] : []));
  const other = settled.filter((s) => s.status === "rejected" && !(s.reason instanceof RateLimitedError));
  expect(other).toEqual([]);
  return { ok: settled.filter((s) => s.status === "fulfilled").length, limited };
}

describe.each(targets)("per-workspace rate limits on $name", ({ backend, open }) => {
  let opened: Opened;
  let intake: Intake;
  const config = loadConfig({ RATE_LIMIT_PER_MINUTE: "5" });
  let n = 0;
  const ws = async (rateLimitPerMinute?: number) => {
    n += 1;
    return (await intake.createWorkspace(`${run}-${n}`, "rl", { rateLimitPerMinute })).id;
  };

  beforeAll(async () => {
    opened = await open();
    intake = createIntake({ store: opened.store, kv: opened.kv, limits: opened.limits, config });
  });
  afterAll(async () => {
    await opened.cleanup();
  });

  it("picks the backend that matches the deployment", () => {
    expect(intake.rateLimitBackend).toBe(backend);
  });

  it("allows RATE_LIMIT_PER_MINUTE requests, then 429 with a retry-after inside the minute", async () => {
    const id = await ws();
    const remaining: number[] = [];
    for (let i = 0; i < 5; i += 1) remaining.push((await intake.consume(id)).remaining);
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const err = await intake.consume(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    const limited = err as RateLimitedError;
    expect(limited.code).toBe("RATE_LIMITED");
    expect(limited.status).toBe(429);
    expect(limited.retryAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(limited.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(limited.details).toMatchObject({ workspace: id, limit: 5 });
    const header = retryAfterSeconds(limited.retryAfterMs);
    expect(header).toBeGreaterThanOrEqual(1);
    expect(header).toBeLessThanOrEqual(60);
    expect([retryAfterSeconds(0), retryAfterSeconds(1_000), retryAfterSeconds(1_001)]).toEqual([1, 1, 2]);
  });

  it("a workspace's own limit overrides the default, and workspaces do not share counts", async () => {
    const small = await ws(2);
    const other = await ws();
    await intake.consume(small);
    await intake.consume(small);
    await expect(intake.consume(small)).rejects.toBeInstanceOf(RateLimitedError);
    expect((await intake.consume(other)).limit).toBe(5);
    // Raising the limit through updateWorkspace takes effect at once in this process.
    await intake.updateWorkspace(small, { rateLimitPerMinute: 4 });
    expect((await intake.consume(small)).limit).toBe(4);
  });

  it("concurrent requests never exceed the limit", async () => {
    const id = await ws(10);
    const { ok, limited } = await outcomes(Array.from({ length: 30 }, () => intake.consume(id)));
    expect(ok).toBe(10);
    expect(limited).toHaveLength(20);
  });

  it("a new window starts when the old one ends", async () => {
    const quick = createIntake({ store: opened.store, kv: opened.kv, limits: opened.limits, config, rateLimitWindowSeconds: 1 });
    const id = await ws(2);
    await quick.consume(id);
    await quick.consume(id);
    const err = (await quick.consume(id).catch((e: unknown) => e)) as RateLimitedError;
    expect(err.retryAfterMs).toBeLessThanOrEqual(1_000);
    await new Promise((resolve) => setTimeout(resolve, err.retryAfterMs + 100));
    expect((await quick.consume(id)).remaining).toBe(1);
  });

  it("processes share one count on Redis and PostgreSQL (not in embedded memory mode)", async (ctx) => {
    if (!opened.second) return ctx.skip();
    const other = createIntake({ ...opened.second(), config });
    const id = await ws(6);
    const { ok } = await outcomes(Array.from({ length: 12 }, (_, i) => (i % 2 ? intake : other).consume(id)));
    expect(ok).toBe(6);
  });
});

describe("rate limiter failures", () => {
  it("an unreachable Redis is DEPENDENCY_UNAVAILABLE (503), not a 429 or a crash", async () => {
    const client = new Redis({
      port: await freePort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    client.on("error", () => undefined);
    const limiter = createWorkspaceRateLimiter({ counters: createRedisLimitCounters(client) });
    const err = await limiter.consume("ws-down").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe("DEPENDENCY_UNAVAILABLE");
    client.disconnect();
  });
});
