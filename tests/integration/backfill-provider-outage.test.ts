import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { catalogue, fakeOpenAIEnv, sleep, startLoggedSluice, statusCounts, until, type LoggedSluice } from "./backfill-support.ts";

/**
 * A provider outage opens the breaker; while it is open the backfill's chunks are refused without a
 * call. Those refusals are not attempts: the items wait for the half-open trial instead of burning
 * their three attempts in a few retry delays and ending `failed`.
 */
let fake: FakeProviderServer;
let t: LoggedSluice;

beforeAll(async () => {
  fake = await startFakeProviderServer();
  t = await startLoggedSluice({
    ...fakeOpenAIEnv(fake),
    AI_MAX_ATTEMPTS: "1",
    AI_BREAKER_THRESHOLD: "1",
    AI_BREAKER_HALF_OPEN_AFTER_MS: "2500",
    EMBEDDING_BACKFILL_RETRY_DELAY_MS: "50",
    EMBEDDING_BACKFILL_SWEEP_MS: "300",
  });
  await t.sluice.intake.ensureWorkspace("shop-out", "Outage");
  await t.sluice.startWorkers();
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

describe("backfill through a provider outage (breaker open)", () => {
  it("fails no item whose attempts were not really spent", async () => {
    fake.reset();
    fake.setOutage(true);
    await t.sluice.embeddings.upsert(
      "shop-out",
      catalogue(30, "o").map((i) => ({ externalId: i.id, text: i.text })),
    );
    await until(
      async () => fake.stats.requests,
      (n) => n >= 1,
      20_000,
      "the first failing call",
    );
    await sleep(1_500);
    const during = await statusCounts(t.sluice, "shop-out");
    fake.setOutage(false);
    const done = await until(
      () => statusCounts(t.sluice, "shop-out"),
      (c) => c.completed + c.failed === 30,
      30_000,
      "all 30 settled",
    );
    expect(during.failed).toBe(0);
    expect(done).toMatchObject({ completed: 30, failed: 0 });
    const { rows } = await t.sluice.store.query<{ max: number }>(
      "SELECT max(retry_count) AS max FROM shop_product_embeddings WHERE shop_id = 'shop-out'",
    );
    expect(rows[0]?.max ?? 0).toBeLessThanOrEqual(1);
  });
});
