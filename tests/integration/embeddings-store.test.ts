import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createPgStore } from "../../src/adapters/store/pg/store.ts";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import { SluiceError } from "../../src/core/errors.ts";
import type { Store } from "../../src/ports/store.ts";
import * as E from "../../src/pipeline/embeddings/sql/index.ts";
import { embedNextChunk } from "../../src/pipeline/embeddings/embed-chunk.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import { servePgliteOnTheWire } from "../harness/pglite-wire.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

// pgvector is in PGlite, not in Debian's PostgreSQL: both driver paths run against PGlite, in process
// and over the wire protocol (node-postgres, the production driver).
interface Target {
  name: string;
  open(): Promise<{ store: Store; second: Store; close: () => Promise<void> }>;
}

const targets: Target[] = [
  {
    name: "PGlite in-process",
    open: async () => {
      const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
      const second = await createPgliteStore({ db: store.db });
      return { store, second, close: () => store.close() };
    },
  },
  {
    name: "PGlite over the wire (pg driver)",
    open: async () => {
      const wire = await servePgliteOnTheWire();
      const store = createPgStore({ connectionString: wire.url, poolSize: 4 });
      const second = createPgStore({ connectionString: wire.url, poolSize: 4 });
      return {
        store,
        second,
        close: async () => {
          await store.close();
          await second.close();
          await wire.close();
        },
      };
    },
  },
];

const DIMS = 384;
const items = (n: number, prefix = "item", from = 0): E.ItemInput[] =>
  Array.from({ length: n }, (_, i) => ({
    externalId: `${prefix}-${i + from}`,
    text: `${prefix} text ${i + from}`,
    metadata: { n: i + from },
  }));

async function row(store: Store, ws: string, externalId: string) {
  const { rows } = await store.query<{
    status: string;
    retry_count: number;
    error_message: string | null;
    has_vector: boolean;
    content: string;
    metadata: unknown;
  }>(
    `SELECT status, retry_count, error_message, embedding IS NOT NULL AS has_vector, content, metadata
     FROM shop_product_embeddings WHERE shop_id = $1 AND external_id = $2`,
    [ws, externalId],
  );
  return rows[0];
}

async function statusCounts(store: Store, ws: string): Promise<Record<string, number>> {
  const rows = await E.backlogByWorkspace(store, { workspaceId: ws });
  return Object.fromEntries(rows.map((r) => [r.status, r.count]));
}

for (const target of targets) {
  describe(`embeddings store: ${target.name}`, () => {
    let store: Store;
    let second: Store;
    let close: () => Promise<void>;
    const vectors = E.clusteredVectors({ dimensions: DIMS, seed: 3 });
    let wsCounter = 0;
    let ws: string;

    const embedAll = async (workerId = "w-embed", workspaceId = ws) => {
      const claimed = await E.claimItems(store, { workerId, workspaceId, limit: 1000 });
      await E.completeItems(store, { workerId, model: "m1", results: claimed.map((c) => ({ id: c.id, vector: vectors() })) });
      return claimed;
    };

    beforeAll(async () => {
      ({ store, second, close } = await target.open());
      await migrate(store);
    });
    afterAll(async () => close());
    beforeEach(async () => {
      ws = `ws-${++wsCounter}`;
      await store.query("INSERT INTO workspaces (id, name) VALUES ($1, $1)", [ws]);
    });

    it("ingests in bulk: unchanged items are not re-queued, changed text is, metadata-only changes keep the vector, deletes leave", async () => {
      expect(await E.upsertItems(store, ws, items(3))).toEqual({ received: 3, inserted: 3, updated: 0, unchanged: 0 });
      await embedAll();
      expect(await statusCounts(store, ws)).toEqual({ completed: 3 });

      expect(await E.upsertItems(store, ws, items(3))).toEqual({ received: 3, inserted: 0, updated: 0, unchanged: 3 });
      expect(await statusCounts(store, ws)).toEqual({ completed: 3 });

      const changed = items(3);
      changed[0] = { externalId: "item-0", text: "a new text", metadata: { n: 0 } };
      changed[1] = { externalId: "item-1", text: "item text 1", metadata: { n: 1, tag: "new" } };
      expect(await E.upsertItems(store, ws, [...changed, ...items(1, "item", 3)])).toEqual({
        received: 4,
        inserted: 1,
        updated: 2,
        unchanged: 1,
      });
      expect(await row(store, ws, "item-0")).toMatchObject({ status: "pending", retry_count: 0, has_vector: false, content: "a new text" });
      expect(await row(store, ws, "item-1")).toMatchObject({ status: "completed", has_vector: true, metadata: { n: 1, tag: "new" } });
      expect(await row(store, ws, "item-2")).toMatchObject({ status: "completed", has_vector: true });

      expect(await E.deleteItems(store, ws, ["item-2", "missing"])).toBe(1);
      expect(await row(store, ws, "item-2")).toBeUndefined();
      expect(await statusCounts(store, ws)).toEqual({ completed: 1, pending: 2 });
    });

    it("keeps awkward text and metadata intact through the array parameters", async () => {
      const odd = [
        {
          externalId: 'quote"s,{braces}\\back',
          text: 'line\nbreak, "quoted" {x} \\ é 😀',
          metadata: { s: 'a"b', arr: [1, "2"], nested: { k: null } },
        },
      ];
      await E.upsertItems(store, ws, odd);
      const stored = await row(store, ws, odd[0]!.externalId);
      expect(stored?.content).toBe(odd[0]!.text);
      expect(stored?.metadata).toEqual(odd[0]!.metadata);
    });

    it("rejects bad input with stable codes and writes nothing", async () => {
      const code = (p: Promise<unknown>) =>
        p.then(
          () => "ok",
          (e: unknown) => (e instanceof SluiceError ? e.code : String(e)),
        );
      expect(await code(E.upsertItems(store, ws, [...items(2), items(1)[0]!]))).toBe("VALIDATION_FAILED");
      expect(await code(E.upsertItems(store, ws, [{ externalId: "x", text: "has\u0000nul" }]))).toBe("VALIDATION_FAILED");
      expect(await code(E.upsertItems(store, ws, [{ externalId: "x", text: "  " }]))).toBe("VALIDATION_FAILED");
      expect(
        await code(E.upsertItems(store, ws, [{ externalId: "x", text: "t", metadata: [] as unknown as Record<string, unknown> }])),
      ).toBe("VALIDATION_FAILED");
      expect(await code(E.upsertItems(store, ws, items(3), { maxItems: 2 }))).toBe("VALIDATION_FAILED");
      expect(await code(E.upsertItems(store, "no-such-workspace", items(1)))).toBe("NOT_FOUND");
      expect(await code(E.upsertItems(store, "bad:id", items(1)))).toBe("VALIDATION_FAILED");
      expect(await statusCounts(store, ws)).toEqual({});
    });

    it("writes vectors in binary form that read back equal (float4 precision)", async () => {
      await E.upsertItems(store, ws, items(2));
      const claimed = await E.claimItems(store, { workerId: "w", workspaceId: ws });
      const written = claimed.map((c) => ({ id: c.id, vector: vectors() }));
      expect(await E.completeItems(store, { workerId: "w", model: "m1", results: written })).toEqual({ completed: 2, skipped: 0 });
      const { rows } = await store.query<{ id: number; v: string; dimensions: number; model: string }>(
        "SELECT id, embedding::text AS v, dimensions, model FROM shop_product_embeddings WHERE shop_id = $1 ORDER BY id",
        [ws],
      );
      rows.forEach((r, i) => {
        const back = JSON.parse(r.v) as number[];
        expect(r).toMatchObject({ dimensions: DIMS, model: "m1" });
        expect(Float32Array.from(back)).toEqual(written[i]!.vector);
      });
      await expect(
        E.completeItems(store, { workerId: "w", model: "m1", results: [{ id: claimed[0]!.id, vector: [1, Number.NaN] }] }),
      ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    });

    it("two stores claiming at once never take the same item, and together take all", async () => {
      await E.upsertItems(store, ws, items(400));
      const takeAll = async (db: Store, workerId: string) => {
        const mine: number[] = [];
        for (;;) {
          const got = await E.claimItems(db, { workerId, workspaceId: ws, limit: 7 });
          if (got.length === 0) return mine;
          mine.push(...got.map((g) => g.id));
        }
      };
      const [a, b, c] = await Promise.all([takeAll(store, "worker-a"), takeAll(second, "worker-b"), takeAll(second, "worker-c")]);
      const all = [...a, ...b, ...c];
      expect(new Set(all).size).toBe(all.length);
      expect(all.length).toBe(400);
      const { rows } = await store.query<{ claimed_by: string; n: number }>(
        "SELECT claimed_by, count(*) AS n FROM shop_product_embeddings WHERE shop_id = $1 AND status = 'processing' GROUP BY claimed_by ORDER BY claimed_by",
        [ws],
      );
      expect(rows).toEqual(
        [
          { claimed_by: "worker-a", n: a.length },
          { claimed_by: "worker-b", n: b.length },
          { claimed_by: "worker-c", n: c.length },
        ].filter((r) => r.n > 0),
      );
    });

    it("retries a failing item and leaves it failed after 3 attempts; a permanent failure stops at once", async () => {
      await E.upsertItems(store, ws, items(2));
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [item] = await E.claimItems(store, { workerId: "w", workspaceId: ws, limit: 1 });
        const result = await E.failItems(store, {
          workerId: "w",
          failures: [{ id: item!.id, message: `rate limited (attempt ${attempt})` }],
        });
        expect(result).toEqual(attempt < 3 ? { requeued: 1, failed: 0, skipped: 0 } : { requeued: 0, failed: 1, skipped: 0 });
      }
      expect(await row(store, ws, "item-0")).toMatchObject({ status: "failed", retry_count: 3, error_message: "rate limited (attempt 3)" });
      const [other] = await E.claimItems(store, { workerId: "w", workspaceId: ws, limit: 5 });
      expect(other?.externalId).toBe("item-1");
      await E.failItems(store, { workerId: "w", failures: [{ id: other!.id, message: "input too long", permanent: true }] });
      expect(await row(store, ws, "item-1")).toMatchObject({ status: "failed", retry_count: 1 });
      expect(await E.claimItems(store, { workerId: "w", workspaceId: ws })).toEqual([]);
      const errors = (await E.recentErrors(store)).filter(
        (e) => e.errorMessage === "input too long" || e.errorMessage === "rate limited (attempt 3)",
      );
      expect(errors).toHaveLength(2);
    });

    it("kill switch: a chunk aborted while embedding is released to pending, nothing lost or counted", async () => {
      await E.upsertItems(store, ws, items(30));
      const stop = new AbortController();
      const result = await embedNextChunk(store, {
        workerId: "w-kill",
        workspaceId: ws,
        limit: 10,
        model: "m1",
        signal: stop.signal,
        embed: async (_texts, { signal }) => {
          stop.abort();
          throw signal?.reason ?? new Error("aborted");
        },
      });
      expect(result).toMatchObject({ claimed: 10, released: 10, failed: 0, requeued: 0 });
      expect(await embedNextChunk(store, { workerId: "w-kill", model: "m1", signal: stop.signal, embed: async () => [] })).toMatchObject({
        claimed: 0,
      });
      await E.claimItems(store, { workerId: "w-held", workspaceId: ws, limit: 5 });
      expect(await E.releaseClaims(store, { workerId: "w-held" })).toBe(5);
      expect(await statusCounts(store, ws)).toEqual({ pending: 30 });
      const { rows } = await store.query<{ n: number }>(
        "SELECT count(*) AS n FROM shop_product_embeddings WHERE shop_id = $1 AND retry_count = 0 AND claimed_by IS NULL",
        [ws],
      );
      expect(rows[0]?.n).toBe(30);
    });

    it("embedNextChunk: claim -> embed -> complete, and provider errors become attempts", async () => {
      await E.upsertItems(store, ws, items(5));
      const ok = await embedNextChunk(store, {
        workerId: "w",
        workspaceId: ws,
        limit: 3,
        model: "m1",
        dimensions: DIMS,
        embed: async (texts) => texts.map(() => vectors()),
      });
      expect(ok).toMatchObject({ claimed: 3, completed: 3 });
      const rejected = await embedNextChunk(store, {
        workerId: "w",
        workspaceId: ws,
        limit: 1,
        model: "m1",
        embed: async () => {
          throw new SluiceError("VALIDATION_FAILED", "provider rejected the input", { retryable: false });
        },
      });
      expect(rejected).toMatchObject({ claimed: 1, failed: 1 });
      const short = await embedNextChunk(store, { workerId: "w", workspaceId: ws, limit: 1, model: "m1", embed: async () => [] });
      expect(short).toMatchObject({ claimed: 1, requeued: 1 });
      expect(await row(store, ws, "item-4")).toMatchObject({
        status: "pending",
        retry_count: 1,
        error_message: "provider returned 0 embeddings for 1 texts",
      });
    });

    it("a worker whose claim was taken back cannot overwrite the new claimer's result", async () => {
      await E.upsertItems(store, ws, items(1));
      const [mine] = await E.claimItems(store, { workerId: "slow", workspaceId: ws });
      await store.query("UPDATE shop_product_embeddings SET claimed_at = now() - interval '20 minutes' WHERE id = $1", [mine!.id]);
      expect(await E.reclaimStaleClaims(store, { olderThanMs: 600_000 })).toEqual({ requeued: 1, failed: 0 });
      expect(await row(store, ws, "item-0")).toMatchObject({ status: "pending", retry_count: 1, error_message: E.STALE_CLAIM_MESSAGE });
      const [theirs] = await E.claimItems(store, { workerId: "fast", workspaceId: ws });
      expect(theirs?.id).toBe(mine!.id);
      expect(await E.completeItems(store, { workerId: "slow", model: "m1", results: [{ id: mine!.id, vector: vectors() }] })).toEqual({
        completed: 0,
        skipped: 1,
      });
      expect(await E.completeItems(store, { workerId: "fast", model: "m1", results: [{ id: mine!.id, vector: vectors() }] })).toEqual({
        completed: 1,
        skipped: 0,
      });
    });

    it("reindex: a workspace goes back to pending with retry_count 0; failed items by the runbook rule or forced", async () => {
      await E.upsertItems(store, ws, items(4));
      await embedAll();
      expect(await E.reindexWorkspace(store, ws)).toBe(4);
      expect(await statusCounts(store, ws)).toEqual({ pending: 4 });
      expect(await E.reindexWorkspace(store, ws)).toBe(0);
      // item-0: out of attempts (retry_count 3); item-1: permanent after 1 attempt.
      const [a, b] = await E.claimItems(store, { workerId: "w", workspaceId: ws, limit: 2 });
      await E.failItems(store, {
        workerId: "w",
        failures: [
          { id: a!.id, message: "x" },
          { id: b!.id, message: "bad", permanent: true },
        ],
        maxAttempts: 1,
      });
      await store.query("UPDATE shop_product_embeddings SET retry_count = 3 WHERE id = $1", [a!.id]);
      expect(await E.retryFailed(store, { workspaceId: ws })).toBe(1);
      expect(await row(store, ws, "item-1")).toMatchObject({ status: "pending", retry_count: 0, error_message: null });
      expect(await row(store, ws, "item-0")).toMatchObject({ status: "failed", retry_count: 3 });
      expect(await E.retryFailed(store, { workspaceId: ws, force: true })).toBe(1);
      expect(await statusCounts(store, ws)).toEqual({ pending: 4 });
    });

    it("batches: claims move to the batch, a stuck batch shows up, expiry returns unanswered items", async () => {
      await E.upsertItems(store, ws, items(4));
      const claimed = await E.claimItems(store, { workerId: "w-batch", workspaceId: ws });
      const batch = await E.createBatch(store, {
        workerId: "w-batch",
        itemIds: claimed.map((c) => c.id),
        provider: "openai",
        model: "m1",
        dimensions: DIMS,
        workspaceId: ws,
        providerBatchId: `pb-${ws}`,
      });
      expect(batch).toMatchObject({ status: "submitted", total_items: 4, completed_items: 0, shop_id: ws });
      await store.query("UPDATE shop_product_embeddings SET claimed_at = now() - interval '5 hours' WHERE batch_id = $1", [batch.id]);
      // An hour: only the rows backdated above qualify, not other tests' fresh claims on a slow machine.
      expect(await E.reclaimStaleClaims(store, { olderThanMs: 3_600_000 })).toEqual({ requeued: 0, failed: 0 });
      await store.query("UPDATE embedding_batches SET submitted_at = now() - interval '3 hours' WHERE id = $1", [batch.id]);
      expect((await E.stuckBatches(store)).map((s) => s.id)).toContain(batch.id);
      expect(await E.oldestOpenBatchAgeSeconds(store)).toBeGreaterThan(3 * 3600 - 60);
      expect(await E.updateBatch(store, batch.id, { status: "processing", outputFileId: "file-out" })).toMatchObject({
        status: "processing",
        output_file_id: "file-out",
      });
      const applied = await E.applyBatchResults(store, batch.id, {
        model: "m1",
        results: claimed.slice(0, 2).map((c) => ({ id: c.id, vector: vectors() })),
      });
      expect(applied).toEqual({ completed: 2, failed: 0, requeued: 0 });
      const finished = await E.finishBatch(store, batch.id, { status: "expired", error: "batch expired after 24h" });
      expect(finished).toMatchObject({ requeued: 2, failed: 0, batch: { status: "expired", completed_items: 2 } });
      expect(await statusCounts(store, ws)).toEqual({ completed: 2, pending: 2 });
      expect((await E.stuckBatches(store)).map((s) => s.id)).not.toContain(batch.id);
    });

    it("maintenance: VACUUM ANALYZE, REINDEX CONCURRENTLY, and the index follows the configured dimensions", async () => {
      expect(Number((await E.pgvectorVersion(store))?.split(".")[1])).toBeGreaterThanOrEqual(8);
      expect((await E.vacuumAnalyze(store)).map((v) => v.table)).toEqual(["shop_product_embeddings", "embedding_batches"]);
      expect(await E.reindexVectorIndex(store)).toMatchObject({ concurrently: true });
      expect(await E.vectorIndexInfo(store)).toMatchObject({ exists: true, dimensions: DIMS });
      expect(await E.ensureVectorIndex(store, { dimensions: DIMS })).toMatchObject({ rebuilt: false });
      expect(await E.ensureVectorIndex(store, { dimensions: 3000 })).toMatchObject({ rebuilt: true });
      expect((await E.vectorIndexInfo(store)).definition).toContain("halfvec(3000)");
      expect(await E.ensureVectorIndex(store, { dimensions: DIMS })).toMatchObject({ rebuilt: true });
      expect(await E.vectorIndexInfo(store)).toMatchObject({ exists: true, dimensions: DIMS });
    });
  });
}
