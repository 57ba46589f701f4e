import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config.ts";
import type { CacheEngine } from "../../src/ports/cache.ts";
import { openCacheEngine } from "../../src/wiring.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";

/**
 * REDIS_COMMAND_TIMEOUT_MS applies to the result cache's Redis too (seed 001: commands time out).
 * Its own Redis server: CLIENT PAUSE stops every client of the server, which no shared server may see.
 */
describe("the result cache's Redis command timeout", () => {
  let redis: RunningServer;
  let admin: Redis;
  const engines: CacheEngine[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    admin.disconnect();
    await redis.stop();
  });

  async function lookupWhilePaused(timeoutMs: string, pauseMs: number): Promise<{ ms: number; error: unknown }> {
    const engine = openCacheEngine(loadConfig({ CACHE_REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: timeoutMs }));
    engines.push(engine);
    await engine.set("warm", "1", 60); // connected before the pause
    await admin.client("PAUSE", pauseMs, "ALL");
    const started = Date.now();
    const error = await engine.get("k").then(
      () => undefined,
      (err: unknown) => err,
    );
    return { ms: Date.now() - started, error };
  }

  it("fails a lookup after REDIS_COMMAND_TIMEOUT_MS, not the former hard-coded 2 s", async () => {
    const short = await lookupWhilePaused("200", 1_500);
    expect(String(short.error)).toMatch(/timed out/i);
    expect(short.ms).toBeLessThan(1_200);
    await new Promise((r) => setTimeout(r, 1_600));
    const long = await lookupWhilePaused("4000", 2_500);
    expect(long.error).toBeUndefined(); // waits out a pause longer than 2 s
    expect(long.ms).toBeGreaterThanOrEqual(2_000);
  });
});
