import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { startRestartableRedis, type RestartableServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep } from "../harness/wait.ts";

/**
 * A stop right after a Redis outage: BullMQ's worker close waits for an `end` event that a
 * blocking client still reconnecting never emits (bullmq#4656), so Sluice's close, and a worker's
 * graceful SIGTERM, hung for ever. A close must end
 * (that it first lets running jobs finish is tested in graceful-stop).
 */
describe("closing Sluice just after its queue Redis came back", () => {
  let redis: RestartableServer;
  let t: TestSluice | undefined;
  beforeAll(async () => {
    redis = await startRestartableRedis();
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it("ends", async () => {
    t = await startTestSluice({
      REDIS_URL: redis.url,
      DATABASE_URL: await freshPostgresDatabase("closeoutage"),
      VECTOR_SEARCH_ENABLED: "false",
    });
    await t.sluice.startWorkers();
    expect(t.sluice.queues.workerHandles().length).toBeGreaterThan(0);
    // Outages of 3 s and more leave the blocking clients in ioredis' reconnect back-off for a while.
    await redis.halt("SIGTERM");
    await sleep(5_000);
    await redis.resume();
    const outcome = await Promise.race([t.close().then(() => "closed"), sleep(30_000).then(() => "still closing after 30 s")]);
    expect(outcome).toBe("closed");
  }, 120_000);
});
