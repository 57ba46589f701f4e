import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { createFakeBatches, type FakeBatches } from "../fakes/provider-server/batches.ts";
import {
  auth,
  catalogue,
  metricValue,
  startLoggedSluice,
  statusCounts,
  until,
  fakeOpenAIEnv,
  type LoggedSluice,
} from "./backfill-support.ts";

/**
 * Batch mode (EMBEDDING_BATCH_MODE=openai) against the fake provider's Files and Batches endpoints:
 * JSONL upload, batch creation, polling by the sweep, download and apply, all tracked in
 * `embedding_batches`. A failed batch re-queues its items (one attempt counted); a batch that never
 * finishes is "stuck" after 2 h: in the backlog report, the runbook's SQL and ai_batch_age_seconds.
 */

interface BatchRow {
  id: number;
  shop_id: string;
  status: string;
  total_items: number;
  completed_items: number;
  failed_items: number;
  provider_batch_id: string | null;
  error: string | null;
}

let fake: FakeProviderServer;
let batches: FakeBatches;
let t: LoggedSluice;
let admin: string;

const batchRows = async (ws: string) =>
  (
    await t.sluice.store.query<BatchRow>(
      "SELECT id, shop_id, status, total_items, completed_items, failed_items, provider_batch_id, error FROM embedding_batches WHERE shop_id = $1 ORDER BY id",
      [ws],
    )
  ).rows;
const items = (n: number, prefix: string) => catalogue(n, prefix).map((i) => ({ externalId: i.id, text: i.text, metadata: i.metadata }));

beforeAll(async () => {
  fake = await startFakeProviderServer();
  batches = createFakeBatches(fake.state);
  fake.addRoutes(batches.routes);
  t = await startLoggedSluice({
    ...fakeOpenAIEnv(fake),
    EMBEDDING_BATCH_MODE: "openai",
    EMBEDDING_BATCH_SIZE: "40",
    EMBEDDING_BACKFILL_SWEEP_MS: "250",
    EMBEDDING_CLAIM_TIMEOUT_MS: "1000",
    FLAGS_CACHE_MS: "100",
  });
  for (const ws of ["shop-batch", "shop-fail", "shop-stuck", "ops"]) await t.sluice.intake.ensureWorkspace(ws, ws);
  admin = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

describe("batch mode with the OpenAI Batch API (fake provider)", () => {
  it("uploads JSONL, creates batches, polls, downloads and applies the results", async () => {
    batches.behave({ kind: "complete", afterPolls: 2 });
    await t.sluice.embeddings.upsert("shop-batch", items(100, "q"));
    const bad = await t.sluice.embeddings.item("shop-batch", "q-13");
    batches.failLines([`item-${bad?.id}`]);
    await t.sluice.startWorkers();

    await until(
      () => statusCounts(t.sluice, "shop-batch"),
      (c) => c.completed === 99 && c.failed === 1,
      30_000,
      "batches applied",
    );
    // A batch is closed in the statement after its results are applied: wait for the close too.
    const rows = await until(
      () => batchRows("shop-batch"),
      (r) => r.length === 3 && r.every((b) => b.status !== "processing"),
      10_000,
      "batches closed",
    );
    expect(rows.map((r) => [r.status, r.total_items])).toEqual([
      ["completed", 40],
      ["completed", 40],
      ["completed", 20],
    ]);
    expect(rows.reduce((s, r) => s + r.completed_items, 0)).toBe(99);
    expect(rows.reduce((s, r) => s + r.failed_items, 0)).toBe(1);
    expect(rows.every((r) => r.provider_batch_id?.startsWith("batch_fake"))).toBe(true);
    expect(batches.counts).toMatchObject({ uploads: 3, creates: 3 });
    expect(fake.stats.byRoute.embeddings ?? 0).toBe(0);
    expect(await t.sluice.embeddings.item("shop-batch", "q-13")).toMatchObject({
      status: "failed",
      retryCount: 1,
      errorMessage: "Invalid input for this item (fake)",
    });

    // The vectors came from the batch output: a synchronous query embedding of the same text matches exactly.
    const found = await t.sluice.embeddings.search("shop-batch", { query: "red running shoe model 40", k: 3 });
    expect(found.hits[0]).toMatchObject({ id: "q-40" });
    expect(found.hits[0]?.score).toBeGreaterThan(0.999);
  });

  it("a failed batch puts its items back to pending with an attempt counted; they complete in a later batch", async () => {
    batches.behave({ kind: "fail", message: "provider validation failed (fake)" });
    await t.sluice.embeddings.upsert("shop-fail", items(10, "f"));
    await until(
      () => batchRows("shop-fail"),
      (r) => r.some((b) => b.status === "failed"),
      20_000,
      "a failed batch",
    );
    batches.behave({ kind: "complete", afterPolls: 1 });
    await until(
      () => statusCounts(t.sluice, "shop-fail"),
      (c) => c.completed === 10,
      20_000,
      "resubmitted and completed",
    );
    // The items are applied before their batch row is marked completed: on a busy machine the
    // counts above can be seen first.
    const completedItems = (rows: BatchRow[]) =>
      rows.filter((r) => r.status === "completed").reduce((sum, r) => sum + r.completed_items, 0);
    const rows = await until(
      () => batchRows("shop-fail"),
      (r) => completedItems(r) === 10,
      20_000,
      "the batch rows settled",
    );
    expect(rows[0]).toMatchObject({ status: "failed", error: "provider validation failed (fake)" });
    expect(rows.filter((r) => r.status !== "completed").every((r) => r.status === "failed")).toBe(true);
    const { rows: attempts } = await t.sluice.store.query<{ retry_count: number }>(
      "SELECT DISTINCT retry_count FROM shop_product_embeddings WHERE shop_id = 'shop-fail'",
    );
    expect(attempts.every((a) => a.retry_count >= 1 && a.retry_count < 3)).toBe(true);
  });

  it("a batch that never finishes is stuck after 2 h: backlog report, the runbook query and ai_batch_age_seconds", async () => {
    batches.behave({ kind: "stuck" });
    await t.sluice.embeddings.upsert("shop-stuck", items(5, "s"));
    const [open] = await until(
      () => batchRows("shop-stuck"),
      (r) => r[0]?.status === "processing",
      20_000,
      "batch in progress",
    );
    await t.sluice.store.query("UPDATE embedding_batches SET submitted_at = now() - interval '3 hours' WHERE id = $1", [open?.id]);

    const backlog = (await t.app.inject({ method: "GET", url: "/api/embeddings/backlog", headers: auth(admin) })).json<{
      stuck_batches: Array<{ id: number; workspace_id: string; age_seconds: number; total_items: number }>;
      by_workspace: Array<{ workspace_id: string; status: string; count: number }>;
      batch_mode: string;
    }>();
    expect(backlog.batch_mode).toBe("openai");
    expect(backlog.stuck_batches).toHaveLength(1);
    expect(backlog.stuck_batches[0]).toMatchObject({ id: open?.id, workspace_id: "shop-stuck", total_items: 5 });
    expect(backlog.stuck_batches[0]?.age_seconds).toBeGreaterThan(7_200);
    expect(backlog.by_workspace).toContainEqual({ workspace_id: "shop-stuck", status: "processing", count: 5 });
    expect(await metricValue(t.app, "ai_batch_age_seconds")).toBeGreaterThan(7_200);

    // Runbook 000 "Batch-uri stuck (>2h)", verbatim.
    const { rows: stuck } = await t.sluice.store.query<{
      id: number;
      shop_id: string;
    }>(`SELECT id, shop_id, status, total_items, completed_items,
       now() - submitted_at AS age
FROM embedding_batches
WHERE status IN ('submitted', 'processing')
  AND submitted_at < now() - interval '2 hours';`);
    expect(stuck.map((r) => r.shop_id)).toEqual(["shop-stuck"]);

    // Held by the batch, its items are not taken back by the stale-claim sweep (EMBEDDING_CLAIM_TIMEOUT_MS=1000).
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await statusCounts(t.sluice, "shop-stuck")).toMatchObject({ processing: 5, pending: 0 });
    expect(t.logs().some((l) => l.msg?.startsWith("embedding batches stuck"))).toBe(true);
    const listed = (
      await t.app.inject({ method: "GET", url: "/api/embeddings/batches?status=submitted,processing", headers: auth(admin) })
    ).json<{ batches: Array<{ id: number }> }>();
    expect(listed.batches.map((b) => b.id)).toEqual([open?.id]);
  });
});
