import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, catalogue, metricValue, startLoggedSluice, statusCounts, until, type LoggedSluice } from "./backfill-support.ts";

/**
 * Ingest -> backfill -> search end to end on embedded PGlite with the local provider: the HTTP API,
 * the worker on ai-batch-queue, the store. Also: unchanged texts are not re-embedded, a changed
 * text is, a deleted item leaves the index, and a workspace reindex is audited and re-embeds.
 */

type Hit = { id: string; score: number; metadata: Record<string, unknown> };
type SearchAnswer = { hits: Hit[]; k: number; model: string | null };

let t: LoggedSluice;
let writerA: string;
let writerB: string;
let admin: string;

const put = (key: string, ws: string, payload: object) =>
  t.app.inject({ method: "PUT", url: `/api/workspaces/${ws}/items`, headers: auth(key), payload });
const search = (key: string, ws: string, payload: object) =>
  t.app.inject({ method: "POST", url: `/api/workspaces/${ws}/search`, headers: auth(key), payload });
const embeddedAt = async (ws: string) =>
  new Map(
    (
      await t.sluice.store.query<{ external_id: string; embedded_at: Date }>(
        "SELECT external_id, embedded_at FROM shop_product_embeddings WHERE shop_id = $1",
        [ws],
      )
    ).rows.map((r) => [r.external_id, r.embedded_at.getTime()]),
  );

beforeAll(async () => {
  t = await startLoggedSluice({ EMBEDDING_BACKFILL_SWEEP_MS: "300", FLAGS_CACHE_MS: "100", EMBEDDING_BACKFILL_CHUNK_SIZE: "50" });
  for (const ws of ["ws-a", "ws-b", "ws-ops"]) await t.sluice.intake.ensureWorkspace(ws, ws);
  writerA = (await t.sluice.intake.createApiKey({ workspaceId: "ws-a", scopes: ["jobs:write", "jobs:read"] })).secret;
  writerB = (await t.sluice.intake.createApiKey({ workspaceId: "ws-b", scopes: ["jobs:write", "jobs:read"] })).secret;
  admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-ops", scopes: ["operator"] })).secret;
  await t.sluice.startWorkers();
});
afterAll(async () => {
  await t?.close();
});

describe("ingest -> backfill -> search (embedded PGlite, local provider)", () => {
  it("embeds every ingested item in the background and finds them by text", async () => {
    const res = await put(writerA, "ws-a", { items: catalogue(300) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ received: 300, inserted: 300, updated: 0, unchanged: 0, deleted: 0, queued: true });
    expect(
      (await put(writerB, "ws-b", { items: catalogue(60).map((i) => ({ ...i, metadata: { ...i.metadata, tenant: "b" } })) })).statusCode,
    ).toBe(200);

    await until(
      () => statusCounts(t.sluice),
      (c) => c.completed === 360,
      30_000,
      "all 360 items completed",
    );
    const row = await t.sluice.store.query<{ n: number }>(
      "SELECT count(*) AS n FROM shop_product_embeddings WHERE embedding IS NULL OR dimensions <> 384 OR retry_count <> 0",
    );
    expect(row.rows[0]?.n).toBe(0);

    const found = await search(writerA, "ws-a", { query: "blue leather bag model 17", k: 10 });
    expect(found.statusCode).toBe(200);
    const body = found.json<SearchAnswer>();
    expect(body.hits).toHaveLength(10);
    expect(body.hits[0]).toMatchObject({ id: "p-17" });
    expect(body.hits[0]?.score).toBeGreaterThan(0.99);
    expect(body.hits.every((h, i) => i === 0 || h.score <= (body.hits[i - 1]?.score ?? 1))).toBe(true);
    expect(body.model).toBeTruthy();
  });

  it("keeps workspaces apart: only the caller's items, another workspace is a 404 like a missing one", async () => {
    const a = (await search(writerA, "ws-a", { query: "red running shoe model 0", k: 50 })).json<SearchAnswer>();
    expect(a.hits).toHaveLength(50);
    expect(a.hits.every((h) => h.metadata.tenant === undefined)).toBe(true);
    const b = (await search(writerB, "ws-b", { query: "red running shoe model 0", k: 50 })).json<SearchAnswer>();
    expect(b.hits).toHaveLength(50);
    expect(b.hits.every((h) => h.metadata.tenant === "b")).toBe(true);

    const other = await search(writerA, "ws-b", { query: "red running shoe" });
    const missing = await search(writerA, "ws-nope", { query: "red running shoe" });
    expect(other.statusCode).toBe(404);
    expect(missing.statusCode).toBe(404);
    expect(other.json<{ error: { code: string } }>().error.code).toBe("NOT_FOUND");
    expect(missing.json<{ error: { code: string } }>().error.code).toBe("NOT_FOUND");
    expect((await put(writerA, "ws-b", { items: catalogue(1, "x") })).statusCode).toBe(404);

    const asAdmin = (await search(admin, "ws-b", { query: "red running shoe model 0", k: 5 })).json<SearchAnswer>();
    expect(asAdmin.hits.every((h) => h.metadata.tenant === "b")).toBe(true);
  });

  it("filters by metadata and still returns k hits (iterative scan)", async () => {
    const res = (await search(writerA, "ws-a", { query: "jacket", k: 20, filter: { colour: "black" } })).json<SearchAnswer>();
    expect(res.hits).toHaveLength(20);
    expect(res.hits.every((h) => h.metadata.colour === "black")).toBe(true);
    // k is at most MAX_SEARCH_K (100), on the API as in the library: above it is a clear 400, not a silent cap.
    const most = (await search(writerA, "ws-a", { query: "jacket", k: 100 })).json<SearchAnswer>();
    expect(most.k).toBe(100);
    expect(most.hits).toHaveLength(100);
    const tooMany = await search(writerA, "ws-a", { query: "jacket", k: 5_000 });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
  });

  it("does not re-embed unchanged items; re-embeds a changed text", async () => {
    const before = await embeddedAt("ws-a");
    const counter = await metricValue(t.app, "ai_embedded_items_total");
    const same = await put(writerA, "ws-a", { items: catalogue(300) });
    expect(same.json()).toMatchObject({ received: 300, inserted: 0, updated: 0, unchanged: 300, queued: false });
    const changed = catalogue(300);
    changed[5] = { ...changed[5]!, text: "a completely new purple umbrella" };
    expect((await put(writerA, "ws-a", { items: changed })).json()).toMatchObject({ updated: 1, unchanged: 299, queued: true });

    await until(
      () => statusCounts(t.sluice, "ws-a"),
      (c) => c.completed === 300,
      20_000,
      "the changed item re-embedded",
    );
    await new Promise((r) => setTimeout(r, 700)); // two sweeps: nothing else may be re-embedded
    const after = await embeddedAt("ws-a");
    const moved = [...after].filter(([id, at]) => at !== before.get(id)).map(([id]) => id);
    expect(moved).toEqual(["p-5"]);
    expect(await metricValue(t.app, "ai_embedded_items_total")).toBe(counter + 1);
    const hit = (await search(writerA, "ws-a", { query: "a completely new purple umbrella", k: 1 })).json<SearchAnswer>();
    expect(hit.hits[0]?.id).toBe("p-5");
  });

  it("a deleted item leaves the index", async () => {
    const res = await put(writerA, "ws-a", { delete: ["p-17"] });
    expect(res.json()).toMatchObject({ deleted: 1 });
    const found = (await search(writerA, "ws-a", { query: "blue leather bag model 17", k: 10 })).json<SearchAnswer>();
    expect(found.hits.map((h) => h.id)).not.toContain("p-17");
    expect((await t.app.inject({ method: "GET", url: "/api/workspaces/ws-a/items/p-17", headers: auth(writerA) })).statusCode).toBe(404);
    const del = await t.app.inject({ method: "DELETE", url: "/api/workspaces/ws-a/items/p-18", headers: auth(writerA) });
    expect(del.json()).toEqual({ deleted: 1 });
    expect((await t.app.inject({ method: "DELETE", url: "/api/workspaces/ws-a/items/p-18", headers: auth(writerA) })).statusCode).toBe(404);
  });

  it("re-queues a whole workspace (audited) and embeds it again", async () => {
    const before = await embeddedAt("ws-b");
    const res = await t.app.inject({
      method: "POST",
      url: "/api/embeddings/reindex",
      headers: auth(admin),
      payload: { workspace: "ws-b", reason: "model drill" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ workspace: "ws-b", requeued: 60 });
    const audit = await t.sluice.audit.list({ action: "embeddings.reindex" });
    expect(audit[0]).toMatchObject({ target: "ws-b", reason: "model drill", details: { requeued: 60 } });

    await until(
      () => statusCounts(t.sluice, "ws-b"),
      (c) => c.completed === 60,
      20_000,
      "ws-b embedded again",
    );
    const after = await embeddedAt("ws-b");
    expect([...after].every(([id, at]) => at > (before.get(id) ?? Infinity))).toBe(true);
    expect((await statusCounts(t.sluice, "ws-a")).completed).toBe(298);
  });

  it("exposes the runbook's metrics and the item state", async () => {
    expect(await metricValue(t.app, "ai_backlog_items")).toBe(0);
    expect(await metricValue(t.app, "ai_batch_age_seconds")).toBe(0);
    expect(await metricValue(t.app, "vector_search_latency_seconds_count")).toBeGreaterThan(5);
    expect(await metricValue(t.app, "ai_embedded_items_total")).toBeGreaterThanOrEqual(421);
    const item = await t.app.inject({ method: "GET", url: "/api/workspaces/ws-a/items/p-1", headers: auth(writerA) });
    expect(item.json()).toMatchObject({
      external_id: "p-1",
      workspace_id: "ws-a",
      status: "completed",
      retry_count: 0,
      error_message: null,
      dimensions: 384,
    });
  });
});
