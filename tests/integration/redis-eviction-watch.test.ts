import { execFile } from "node:child_process";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { createQueueBackend } from "../../src/adapters/queue/index.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { SLUICE_BIN } from "../harness/cli.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/**
 * Issue 8 item 7: `CONFIG SET maxmemory-policy allkeys-lru` on a live queue Redis (runbook 001's own
 * tuning step). A running Sluice must notice without a restart: an error in its log, `/ready` 503,
 * `/health/redis` and `sluice status` naming the policy; and recover when the policy is put back.
 */
describe("a running Sluice whose queue Redis turns evicting", () => {
  let redis: RunningServer;
  let admin: Redis;
  let t: TestSluice;
  let url: string;
  const lines: string[] = [];
  const logged = (level: number, text: string): boolean =>
    lines.some((l) => {
      const entry = JSON.parse(l) as { level: number; msg: string };
      return entry.level === level && entry.msg.includes(text);
    });

  beforeAll(async () => {
    redis = await startRedis(); // its own server: the policy is server-wide
    admin = new Redis(redis.url);
    const logger = createLogger({ level: "info", destination: { write: (line: string) => void lines.push(line) } });
    t = await startTestSluice(
      {
        REDIS_URL: redis.url,
        DATABASE_URL: await freshPostgresDatabase("evictwatch"),
        VECTOR_SEARCH_ENABLED: "false",
        REDIS_EVICTION_CHECK_MS: "1000",
      },
      { logger },
    );
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await t?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it("is ready on noeviction", async () => {
    const ready = await t.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ ready: true, checks: { redis: { ok: true, maxmemory_policy: "noeviction" } } });
  });

  it("logs an error from its periodic check after CONFIG SET allkeys-lru, with no request made", async () => {
    await admin.config("SET", "maxmemory-policy", "allkeys-lru");
    await until(async () => logged(50, "queue Redis became unsafe"), Boolean, 5_000, "the error line");
    expect(lines.filter((l) => l.includes("queue Redis became unsafe"))).toHaveLength(1);
    expect(lines.find((l) => l.includes("queue Redis became unsafe"))).toContain('"policy":"allkeys-lru"');
  });

  it("turns /ready and /health/redis to 503 naming the policy and the fix", async () => {
    const ready = await t.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(503);
    const body = ready.json<{ ready: boolean; checks: { redis: Record<string, unknown> } }>();
    expect(body.ready).toBe(false);
    expect(body.checks.redis).toMatchObject({
      ok: false,
      connected: true,
      maxmemory_policy: "allkeys-lru",
      eviction: { policy: "allkeys-lru", safe: false, overridden: false },
    });
    expect(body.checks.redis.error).toMatch(/allkeys-lru.*noeviction/s);
    const redisHealth = await t.app.inject({ method: "GET", url: "/health/redis" });
    expect(redisHealth.statusCode).toBe(503);
    expect(redisHealth.json()).toMatchObject({ connected: true, maxmemory_policy: "allkeys-lru" });
  });

  it("`sluice status` reports NOT READY and exits 1", async () => {
    // Not runCli: its spawnSync would block this process, which is the server being asked.
    const status = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, [SLUICE_BIN, "status", "--url", url], { timeout: 100_000 }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout }),
      );
    });
    expect(status.code, status.stdout).toBe(1);
    expect(status.stdout).toContain("NOT READY");
    expect(status.stdout).toContain("allkeys-lru");
  }, 120_000);

  it("is ready again once the policy is put back, read on the request itself", async () => {
    await admin.config("SET", "maxmemory-policy", "noeviction");
    const ready = await t.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ checks: { redis: { ok: true, maxmemory_policy: "noeviction", eviction: { safe: true } } } });
    expect(logged(30, "maxmemory-policy is acceptable again")).toBe(true);
  });
});

describe("a queue Redis that turns evicting under REDIS_ALLOW_EVICTION", () => {
  it("keeps the queues ready, says overridden, and warns once about the change", async () => {
    const redis = await startRedis();
    const admin = new Redis(redis.url);
    const lines: string[] = [];
    const logger = createLogger({ level: "info", destination: { write: (line: string) => void lines.push(line) } });
    const backend = await createQueueBackend({ kind: "redis", url: redis.url, allowEviction: true, evictionCheckIntervalMs: 200, logger });
    try {
      await admin.config("SET", "maxmemory-policy", "volatile-lru");
      await until(
        async () => lines.filter((l) => l.includes("maxmemory-policy changed")),
        (found) => found.length > 0,
        5_000,
        "the warning",
      );
      expect(await backend.health()).toMatchObject({ ok: true, eviction: { policy: "volatile-lru", safe: false, overridden: true } });
      await new Promise((r) => setTimeout(r, 500)); // more checks, same policy: no more lines
      expect(lines.filter((l) => l.includes("maxmemory-policy changed"))).toHaveLength(1);
      expect(lines.find((l) => l.includes("maxmemory-policy changed"))).toContain('"level":40');
      expect(lines.some((l) => l.includes("became unsafe"))).toBe(false);
    } finally {
      await backend.close();
      admin.disconnect();
      await redis.stop();
    }
  });
});
