import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { auth, catalogue, sleep, startLoggedSluice, statusCounts, until, fakeOpenAIEnv, type LoggedSluice } from "./backfill-support.ts";

/**
 * Runbook 000 "Oprire Pipeline AI" option A: the kill switch. Turned off mid-run (runtime flag through
 * the admin API), the worker stops claiming, gives the chunk it was embedding back to `pending`
 * (no attempt counted), logs `backfill disabled`, and resumes when turned on, without a restart.
 * With OPENAI_EMBEDDING_BACKFILL_ENABLED=false at start it logs the same line and claims nothing.
 */

const setFlag = (t: LoggedSluice, key: string, value: boolean) =>
  t.app.inject({
    method: "PUT",
    url: "/api/flags/embeddings.backfill.enabled",
    headers: auth(key),
    payload: { value, reason: "kill switch drill" },
  });
const messages = (t: LoggedSluice) => t.logs().map((l) => l.msg);

async function retryCounts(t: LoggedSluice): Promise<number[]> {
  const { rows } = await t.sluice.store.query<{ retry_count: number }>("SELECT DISTINCT retry_count FROM shop_product_embeddings");
  return rows.map((r) => r.retry_count);
}

describe("kill switch mid-run (runtime flag, fake OpenAI provider)", () => {
  let fake: FakeProviderServer;
  let t: LoggedSluice;
  let writer: string;
  let admin: string;

  beforeAll(async () => {
    fake = await startFakeProviderServer();
    t = await startLoggedSluice({
      ...fakeOpenAIEnv(fake),
      FLAGS_CACHE_MS: "100",
      EMBEDDING_BACKFILL_CHUNK_SIZE: "10",
      EMBEDDING_BACKFILL_SWEEP_MS: "300",
    });
    await t.sluice.intake.ensureWorkspace("shop-1", "Shop 1");
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    writer = (await t.sluice.intake.createApiKey({ workspaceId: "shop-1", scopes: ["jobs:write", "jobs:read"] })).secret;
    admin = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    await t.sluice.startWorkers();
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("stops claiming, releases the chunk in flight, logs `backfill disabled`, and resumes when re-enabled", async () => {
    // Each provider call takes 600 ms, so the switch is seen while a chunk is being embedded.
    fake.setLatency(600);
    expect(
      (
        await t.app.inject({
          method: "PUT",
          url: "/api/workspaces/shop-1/items",
          headers: auth(writer),
          payload: { items: catalogue(150) },
        })
      ).statusCode,
    ).toBe(200);
    await until(
      () => statusCounts(t.sluice),
      (c) => c.completed >= 20,
      20_000,
      "a few chunks embedded",
    );

    expect((await setFlag(t, admin, false)).statusCode).toBe(200);
    // Between two chunks `processing` is 0 for a moment before the drain sees the switch (the flag
    // request answers fast, ahead of the backfill's statements): wait for the drain to say it stopped.
    const sawDisabled = () => t.logs().some((l) => l.msg === "backfill step finished" && l.stopped === "disabled");
    await until(async () => sawDisabled(), Boolean, 10_000, "the drain noticed the switch");
    const stopped = await until(
      () => statusCounts(t.sluice),
      (c) => c.processing === 0,
      10_000,
      "no item left processing",
    );
    expect(stopped.pending).toBeGreaterThan(0);
    expect(stopped.pending + stopped.completed).toBe(150);
    const requests = fake.stats.byRoute.embeddings ?? 0;
    await sleep(1_500);
    const later = await statusCounts(t.sluice);
    expect(later).toEqual(stopped);
    expect(fake.stats.byRoute.embeddings ?? 0).toBe(requests);
    expect(await retryCounts(t)).toEqual([0]);

    // The exact line runbook 000 greps for, and the chunk that was in flight given back.
    expect(messages(t)).toContain("backfill disabled");
    expect(t.rawLogs().some((line) => /backfill.*disabled/.test(line) && line.includes('"source":"runtime"'))).toBe(true);
    const halted = t.logs().filter((l) => l.msg === "backfill step finished" && l.stopped === "disabled");
    expect(halted.length).toBeGreaterThan(0);
    expect(halted.reduce((sum, l) => sum + Number(l.released), 0)).toBeGreaterThan(0);

    fake.setLatency(0);
    expect((await setFlag(t, admin, true)).statusCode).toBe(200);
    await until(
      () => statusCounts(t.sluice),
      (c) => c.completed === 150,
      20_000,
      "every item completed after re-enabling",
    );
    expect(messages(t)).toContain("backfill enabled");
    expect(await retryCounts(t)).toEqual([0]);
    const audit = await t.sluice.audit.list({ action: "flag.set" });
    expect(audit.filter((a) => a.target === "embeddings.backfill.enabled")).toHaveLength(2);
  });

  it("option B: pausing ai-batch-queue stops the backfill after the chunk in hand; resume finishes it", async () => {
    fake.setLatency(300);
    await t.sluice.embeddings.upsert(
      "shop-1",
      catalogue(100, "pause").map((i) => ({ externalId: i.id, text: i.text })),
    );
    await until(
      () => statusCounts(t.sluice),
      (c) => c.completed >= 170,
      20_000,
      "some of the new items embedded",
    );
    expect(
      (
        await t.app.inject({
          method: "POST",
          url: "/api/queues/ai-batch-queue/pause",
          headers: auth(admin),
          payload: { reason: "option B" },
        })
      ).statusCode,
    ).toBe(200);
    // The drain says when it has seen the pause; between two chunks `processing` is 0 for a moment
    // before that, so the count alone is no proof that it stopped.
    const sawPause = () => t.logs().some((l) => l.msg === "backfill step finished" && l.stopped === "paused");
    await until(async () => sawPause(), Boolean, 10_000, "the drain noticed the pause");
    const paused = await until(
      () => statusCounts(t.sluice),
      (c) => c.processing === 0,
      10_000,
      "chunk in hand finished",
    );
    await sleep(1_200);
    expect(await statusCounts(t.sluice)).toEqual(paused);
    expect(paused.pending).toBeGreaterThan(0);
    fake.setLatency(0);
    expect(
      (await t.app.inject({ method: "POST", url: "/api/queues/ai-batch-queue/resume", headers: auth(admin), payload: {} })).statusCode,
    ).toBe(200);
    await until(
      () => statusCounts(t.sluice),
      (c) => c.completed === 250,
      20_000,
      "every item completed after resume",
    );
    expect(t.logs().some((l) => l.msg === "backfill step finished" && l.stopped === "paused")).toBe(true);
  });

  it("option C: stopping the worker (SIGTERM path) releases the chunk in flight and re-queues the workspace", async () => {
    fake.setLatency(800);
    await t.sluice.embeddings.upsert(
      "shop-1",
      catalogue(40, "stop").map((i) => ({ externalId: i.id, text: i.text })),
    );
    await until(
      () => statusCounts(t.sluice),
      (c) => c.processing > 0,
      10_000,
      "a chunk in flight",
    );
    await t.sluice.embeddings.close();
    const after = await statusCounts(t.sluice);
    expect(after.processing).toBe(0);
    expect(after.pending).toBeGreaterThan(0);
    expect(await retryCounts(t)).toEqual([0]);
    const waiting = await t.sluice.queues.jobs("ai-batch-queue", "waiting");
    expect(waiting.jobs.map((j) => j.data)).toContainEqual({ workspaceId: "shop-1" });
    expect(t.logs().some((l) => l.msg === "backfill step finished" && l.stopped === "closing" && Number(l.released) > 0)).toBe(true);
  });
});

describe("kill switch from the environment (OPENAI_EMBEDDING_BACKFILL_ENABLED=false), local provider", () => {
  let t: LoggedSluice;
  let admin: string;

  beforeAll(async () => {
    t = await startLoggedSluice({ OPENAI_EMBEDDING_BACKFILL_ENABLED: "false", FLAGS_CACHE_MS: "100", EMBEDDING_BACKFILL_SWEEP_MS: "300" });
    await t.sluice.intake.ensureWorkspace("shop-2", "Shop 2");
    admin = (await t.sluice.intake.createApiKey({ workspaceId: "shop-2", scopes: ["operator"] })).secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("logs `backfill disabled` at start and claims nothing until the runtime flag turns it on", async () => {
    await t.sluice.embeddings.upsert(
      "shop-2",
      catalogue(80).map((i) => ({ externalId: i.id, text: i.text })),
    );
    await t.sluice.startWorkers();
    const line = t.logs().find((l) => l.msg === "backfill disabled");
    expect(line).toMatchObject({ flag: "embeddings.backfill.enabled", source: "env" });
    await sleep(1_000);
    expect(await statusCounts(t.sluice)).toMatchObject({ pending: 80, processing: 0, completed: 0 });
    const backlog = (await t.app.inject({ method: "GET", url: "/api/embeddings/backlog", headers: auth(admin) })).json<{
      backfill: unknown;
      top_pending: unknown[];
    }>();
    expect(backlog.backfill).toEqual({ enabled: false, source: "env" });
    expect(backlog.top_pending).toEqual([{ workspace_id: "shop-2", pending: 80 }]);

    expect((await setFlag(t, admin, true)).statusCode).toBe(200);
    await until(
      () => statusCounts(t.sluice),
      (c) => c.completed === 80,
      20_000,
      "backfill ran once enabled at run time",
    );

    // Removing the override goes back to the environment's `false`.
    const unset = await t.app.inject({
      method: "DELETE",
      url: "/api/flags/embeddings.backfill.enabled",
      headers: auth(admin),
      payload: { reason: "back to env" },
    });
    expect(unset.json()).toMatchObject({ value: false, source: "env" });
    await until(
      async () => t.logs().filter((l) => l.msg === "backfill disabled").length,
      (n) => n === 2,
      5_000,
      "disabled logged again",
    );
  });
});
