import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimItems, upsertItems } from "../../src/pipeline/embeddings/sql/index.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { auth, catalogue, startLoggedSluice, statusCounts, until, fakeOpenAIEnv, type LoggedSluice } from "./backfill-support.ts";

/**
 * Provider failures through the runtime: every attempt of an item goes to the fake OpenAI server
 * (AI_MAX_ATTEMPTS calls each), the item's retry_count and error_message record it, and after 3
 * attempts it stays `failed`. Then runbook 000's "Reindex produse failed", with and without force,
 * a permanent (400) failure, and a claim left behind by a worker that died.
 */

let fake: FakeProviderServer;
let t: LoggedSluice;
let admin: string;

const reindex = (payload: object) => t.app.inject({ method: "POST", url: "/api/embeddings/reindex", headers: auth(admin), payload });
const rows = async (ws: string) =>
  (
    await t.sluice.store.query<{ status: string; retry_count: number; error_message: string | null }>(
      "SELECT status, retry_count, error_message FROM shop_product_embeddings WHERE shop_id = $1",
      [ws],
    )
  ).rows;
const items = (n: number, prefix: string) => catalogue(n, prefix).map((i) => ({ externalId: i.id, text: i.text }));

beforeAll(async () => {
  fake = await startFakeProviderServer();
  t = await startLoggedSluice({
    ...fakeOpenAIEnv(fake),
    AI_MAX_ATTEMPTS: "2",
    AI_RETRY_BASE_DELAY_MS: "1",
    AI_BREAKER_THRESHOLD: "1000",
    EMBEDDING_BACKFILL_RETRY_DELAY_MS: "50",
    EMBEDDING_BACKFILL_SWEEP_MS: "300",
    EMBEDDING_CLAIM_TIMEOUT_MS: "1000",
    FLAGS_CACHE_MS: "100",
  });
  for (const ws of ["shop-down", "shop-bad", "shop-dead", "ops"]) await t.sluice.intake.ensureWorkspace(ws, ws);
  admin = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
  await t.sluice.startWorkers();
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

describe("provider errors -> retries -> failed after 3 (fake OpenAI)", () => {
  it("counts each failed attempt and leaves the item failed after the third", async () => {
    fake.reset();
    fake.setOutage(true);
    await t.sluice.embeddings.upsert("shop-down", items(20, "d"));
    await until(
      () => statusCounts(t.sluice, "shop-down"),
      (c) => c.failed === 20,
      20_000,
      "all 20 failed",
    );
    const failed = await rows("shop-down");
    expect(failed.every((r) => r.retry_count === 3)).toBe(true);
    expect(new Set(failed.map((r) => r.error_message)).size).toBe(1);
    expect(failed[0]?.error_message).toMatch(/unavailable|503/i);
    // 3 backfill attempts, each AI_MAX_ATTEMPTS=2 provider calls, one chunk of 20.
    expect(fake.stats.byRoute.embeddings).toBe(6);

    const backlog = (await t.app.inject({ method: "GET", url: "/api/embeddings/backlog", headers: auth(admin) })).json<{
      recent_errors: Array<{ error_message: string; count: number }>;
    }>();
    expect(backlog.recent_errors).toEqual([{ error_message: failed[0]?.error_message, count: 20 }]);
  });

  it("`reindex --failed` follows the runbook (retry_count < 3 only); --force re-queues the exhausted ones", async () => {
    const plain = await reindex({ failed: true, reason: "runbook query" });
    expect(plain.json()).toEqual({ requeued: 0, force: false });
    fake.setOutage(false);
    const forced = await reindex({ failed: true, force: true, reason: "provider back" });
    expect(forced.json()).toEqual({ requeued: 20, force: true });
    await until(
      () => statusCounts(t.sluice, "shop-down"),
      (c) => c.completed === 20,
      20_000,
      "all 20 completed after the forced retry",
    );
    expect((await rows("shop-down")).every((r) => r.retry_count === 0 && r.error_message === null)).toBe(true);
    const audit = await t.sluice.audit.list({ action: "embeddings.retry-failed" });
    expect(audit.map((a) => a.details)).toEqual([
      { requeued: 20, force: true },
      { requeued: 0, force: false },
    ]);
  });

  it("a 400 from the provider fails the item at once (permanent); `reindex --failed` picks it up", async () => {
    fake.failNext(1, 400);
    await t.sluice.embeddings.upsert("shop-bad", items(5, "b"));
    await until(
      () => statusCounts(t.sluice, "shop-bad"),
      (c) => c.failed === 5,
      20_000,
      "all 5 failed permanently",
    );
    expect((await rows("shop-bad")).every((r) => r.retry_count === 1)).toBe(true);
    expect((await reindex({ failed: true, workspace: "shop-bad" })).json()).toEqual({ requeued: 5, force: false });
    await until(
      () => statusCounts(t.sluice, "shop-bad"),
      (c) => c.completed === 5,
      20_000,
      "re-queued items completed",
    );
  });

  it("takes back a claim whose worker died (counted as an attempt) and embeds the items", async () => {
    // A worker that claimed and vanished: claimed here directly, never completed.
    await upsertItems(t.sluice.store, "shop-dead", items(7, "z"));
    expect(await claimItems(t.sluice.store, { workerId: "worker-killed-by-sigkill", workspaceId: "shop-dead", limit: 100 })).toHaveLength(
      7,
    );
    await until(
      () => statusCounts(t.sluice, "shop-dead"),
      (c) => c.completed === 7,
      20_000,
      "reclaimed and completed",
    );
    const done = await rows("shop-dead");
    expect(done.every((r) => r.retry_count === 1)).toBe(true);
    expect(t.logs().some((l) => l.msg?.startsWith("took back embedding items") && l.requeued === 7)).toBe(true);
  });

  it("rejects bad reindex requests", async () => {
    expect((await reindex({})).json<{ error: { code: string } }>().error.code).toBe("VALIDATION_FAILED");
    expect((await reindex({ workspace: "shop-bad", force: true })).statusCode).toBe(400);
    expect((await reindex({ workspace: "no-such-shop" })).statusCode).toBe(404);
    expect((await reindex({ failed: "yes" })).statusCode).toBe(400);
  });
});
