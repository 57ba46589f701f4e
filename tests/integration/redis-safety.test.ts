import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceError } from "../../src/core/errors.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { startTestSluice } from "../harness/sluice.ts";

describe("Sluice on an evicting Redis (runbook 001's allkeys-lru advice)", () => {
  let lru: RunningServer;
  beforeAll(async () => {
    lru = await startRedis({ args: ["--maxmemory-policy", "allkeys-lru"] });
  });
  afterAll(async () => {
    await lru?.stop();
  });

  it("refuses to start its queues, naming the policy and the fix", async () => {
    const err = await startTestSluice({
      REDIS_URL: lru.url,
      DATABASE_URL: await freshPostgresDatabase("lru"),
      VECTOR_SEARCH_ENABLED: "false",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe("REDIS_EVICTION_POLICY");
    expect((err as SluiceError).message).toContain("allkeys-lru");
    expect((err as SluiceError).message).toContain("noeviction");
  });

  it("runs when explicitly overridden, and /ready shows the policy", async () => {
    const t = await startTestSluice({
      REDIS_URL: lru.url,
      REDIS_ALLOW_EVICTION: "true",
      DATABASE_URL: await freshPostgresDatabase("lru"),
      VECTOR_SEARCH_ENABLED: "false",
    });
    try {
      const ready = (await t.app.inject({ method: "GET", url: "/ready" })).json<{
        checks: { redis: { maxmemory_policy: string; eviction: { overridden: boolean } } };
      }>();
      expect(ready.checks.redis.maxmemory_policy).toBe("allkeys-lru");
      expect(ready.checks.redis.eviction.overridden).toBe(true);
      const health = (await t.app.inject({ method: "GET", url: "/health/redis" })).json<{ connected: boolean }>();
      expect(health.connected).toBe(true);
    } finally {
      await t.close();
    }
  });
});
