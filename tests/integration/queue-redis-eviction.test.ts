import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { checkRedisEvictionPolicy, createQueueBackend } from "../../src/adapters/queue/index.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";

/**
 * BullMQ needs `maxmemory-policy noeviction` on the queue Redis; runbook 001's `allkeys-lru` would
 * let Redis delete job hashes and locks. Sluice refuses such a Redis unless REDIS_ALLOW_EVICTION.
 */
describe("Queue Redis eviction policy", () => {
  let evicting: RunningServer;
  beforeAll(async () => {
    evicting = await startRedis({ args: ["--maxmemory-policy", "allkeys-lru"] });
  });
  afterAll(async () => {
    await evicting.stop();
  });

  it("accepts noeviction", async () => {
    expect(await checkRedisEvictionPolicy(inject("redisUrl"))).toEqual({
      policy: "noeviction",
      safe: true,
      overridden: false,
      message: "maxmemory-policy is noeviction",
    });
  });

  it("refuses allkeys-lru with REDIS_EVICTION_POLICY and BullMQ's guidance", async () => {
    const refused = checkRedisEvictionPolicy(evicting.url);
    await expect(refused).rejects.toMatchObject({ code: "REDIS_EVICTION_POLICY", details: { policy: "allkeys-lru" } });
    await expect(refused).rejects.toThrow(/maxmemory-policy is allkeys-lru.*noeviction.*REDIS_ALLOW_EVICTION/s);
    await expect(createQueueBackend({ kind: "redis", url: evicting.url })).rejects.toMatchObject({ code: "REDIS_EVICTION_POLICY" });
  });

  it("runs anyway when overridden, and says so in the health report", async () => {
    const check = await checkRedisEvictionPolicy(evicting.url, { allowEviction: true });
    expect(check).toMatchObject({ policy: "allkeys-lru", safe: false, overridden: true });
    const backend = await createQueueBackend({ kind: "redis", url: evicting.url, allowEviction: true });
    try {
      expect(await backend.health()).toMatchObject({
        kind: "redis",
        ok: true,
        eviction: { policy: "allkeys-lru", safe: false, overridden: true },
      });
    } finally {
      await backend.close();
    }
  });

  it("reports an unreachable Redis as DEPENDENCY_UNAVAILABLE", async () => {
    await expect(checkRedisEvictionPolicy("redis://127.0.0.1:1")).rejects.toMatchObject({ code: "DEPENDENCY_UNAVAILABLE" });
    await expect(createQueueBackend({ kind: "redis", url: "redis://127.0.0.1:1" })).rejects.toMatchObject({
      code: "DEPENDENCY_UNAVAILABLE",
    });
  });
});
