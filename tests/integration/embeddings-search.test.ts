import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrometheusMetrics } from "../../src/adapters/metrics/prometheus.ts";
import { createPgStore } from "../../src/adapters/store/pg/store.ts";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import type { Store } from "../../src/ports/store.ts";
import * as E from "../../src/pipeline/embeddings/sql/index.ts";
import { embedNextChunk } from "../../src/pipeline/embeddings/embed-chunk.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import { servePgliteOnTheWire } from "../harness/pglite-wire.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

interface Target {
  name: string;
  open(): Promise<{ store: Store; close: () => Promise<void> }>;
}

const targets: Target[] = [
  {
    name: "PGlite in-process",
    open: async () => {
      const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
      return { store, close: () => store.close() };
    },
  },
  {
    name: "PGlite over the wire (pg driver)",
    open: async () => {
      const wire = await servePgliteOnTheWire(10);
      const store = createPgStore({ connectionString: wire.url, poolSize: 3 });
      return {
        store,
        close: async () => {
          await store.close();
          await wire.close();
        },
      };
    },
  },
];

const DIMS = 384;
// A large tenant and a small one (5% of the rows) drawn from the same clusters: an HNSW scan's first
// ef_search candidates hold only a couple of the small tenant's items.
const SIZES = { big: 1_140, small: 60 } as const;

async function load(store: Store, next: () => Float32Array): Promise<void> {
  // Bulk load first, index after: an HNSW build is ~4x faster than as many single inserts.
  await store.exec(`DROP INDEX ${E.VECTOR_INDEX}`);
  for (const [ws, n] of Object.entries(SIZES)) {
    await store.query("INSERT INTO workspaces (id, name) VALUES ($1, $1)", [ws]);
    const items = Array.from({ length: n }, (_, i) => ({ externalId: `${ws}-${i}`, text: `${ws} ${i}`, metadata: { parity: i % 2 } }));
    await E.upsertItems(store, ws, items);
  }
  for (;;) {
    const step = await embedNextChunk(store, {
      workerId: "loader",
      limit: 500,
      model: "m1",
      embed: async (texts) => texts.map(() => next()),
    });
    if (step.claimed === 0) break;
  }
  await E.ensureVectorIndex(store, { dimensions: DIMS });
  await store.exec("ANALYZE shop_product_embeddings");
}

/** Runs the search statement with the planner pushed onto the HNSW index (no sort plan allowed). */
async function viaIndex(
  store: Store,
  ws: string,
  vector: Float32Array,
  iterativeScan: E.IterativeScan,
): Promise<{ count: number; plan: string }> {
  return store.transaction(async (tx) => {
    await tx.query(
      "SELECT set_config('enable_sort', 'off', true), set_config('hnsw.iterative_scan', $1, true), set_config('hnsw.ef_search', '40', true)",
      [iterativeScan],
    );
    const sql = E.searchSql(DIMS, { filter: false, model: false, exact: false });
    const params = E.searchParams(ws, vector, 10, null, null);
    const { rows } = await tx.query(sql, params);
    const explained = await tx.query<{ "QUERY PLAN": string }>(`EXPLAIN ${sql}`, params);
    return { count: rows.length, plan: explained.rows.map((r) => r["QUERY PLAN"]).join("\n") };
  });
}

for (const target of targets) {
  describe(`embeddings search: ${target.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    const next = E.clusteredVectors({ dimensions: DIMS, clusters: 16, seed: 11 });
    const queries = Array.from({ length: 8 }, () => next());

    beforeAll(async () => {
      ({ store, close } = await target.open());
      await migrate(store);
      await load(store, next);
    });
    afterAll(async () => close());

    it("returns only the workspace's items, k of them, best first", async () => {
      for (const ws of ["small", "big"] as const) {
        const hits = await E.searchItems(store, ws, { vector: queries[0]!, k: 10 });
        expect(hits).toHaveLength(10);
        expect(hits.every((h) => h.externalId.startsWith(`${ws}-`))).toBe(true);
        expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
        expect(hits[0]!.score).toBeCloseTo(1 - hits[0]!.distance, 10);
      }
      expect(await E.searchItems(store, "nobody", { vector: queries[0]! })).toEqual([]);
    });

    it("a small tenant gets k results only with the iterative index scan on", async () => {
      for (const vector of queries.slice(0, 3)) {
        const off = await viaIndex(store, "small", vector, "off");
        const relaxed = await viaIndex(store, "small", vector, "relaxed_order");
        const strict = await viaIndex(store, "small", vector, "strict_order");
        expect(off.plan).toContain("idx_shop_embeddings_vector");
        expect(relaxed.plan).toContain("idx_shop_embeddings_vector");
        expect(off.count).toBeLessThan(10);
        expect(relaxed.count).toBe(10);
        expect(strict.count).toBe(10);
      }
    });

    it("matches exact search closely (recall@10) and exactly with exact: true", async () => {
      let overlap = 0;
      for (const vector of queries) {
        const approx = await E.searchItems(store, "big", { vector, k: 10 });
        const exact = await E.searchItems(store, "big", { vector, k: 10, exact: true });
        const truth = new Set(exact.map((h) => h.id));
        overlap += approx.filter((h) => truth.has(h.id)).length;
        expect(exact).toHaveLength(10);
      }
      expect(overlap / (queries.length * 10)).toBeGreaterThanOrEqual(0.9);
    });

    it("filters by metadata containment and by model", async () => {
      const odd = await E.searchItems(store, "small", { vector: queries[1]!, k: 10, filter: { parity: 1 } });
      expect(odd).toHaveLength(10);
      expect(odd.every((h) => h.metadata.parity === 1)).toBe(true);
      expect(await E.searchItems(store, "small", { vector: queries[1]!, model: "another-model" })).toEqual([]);
      expect(await E.searchItems(store, "small", { vector: queries[1]!, model: "m1" })).toHaveLength(10);
    });

    it("a deleted item leaves the results", async () => {
      const [top] = await E.searchItems(store, "small", { vector: queries[2]!, k: 1 });
      await E.deleteItems(store, "small", [top!.externalId]);
      const after = await E.searchItems(store, "small", { vector: queries[2]!, k: 10 });
      expect(after).toHaveLength(10);
      expect(after.map((h) => h.externalId)).not.toContain(top!.externalId);
    });

    it("rejects bad queries with VALIDATION_FAILED", async () => {
      for (const query of [
        { vector: queries[0]!, k: 0 },
        { vector: [0.1, Number.NaN] },
        { vector: [] },
        { vector: queries[0]!, efSearch: 5000 },
        { vector: queries[0]!, filter: [] },
      ]) {
        await expect(E.searchItems(store, "small", query as E.SearchQuery)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      }
      await expect(E.searchItems(store, "bad:ws", { vector: queries[0]! })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    });

    it("reports latency, backlog and batch age as metrics", async () => {
      const metrics = createPrometheusMetrics({ processMetrics: false });
      const instruments = E.registerEmbeddingMetrics(metrics, store);
      await E.searchItems(store, "big", { vector: queries[3]! }, { latency: instruments.searchLatency });
      await E.upsertItems(store, "small", [{ externalId: "new-1", text: "fresh" }]);
      const text = await metrics.render();
      expect(text).toMatch(/vector_search_latency_seconds_count 1/);
      expect(text).toMatch(/ai_backlog_items\{workspace="small",status="pending"\} 1/);
      expect(text).toMatch(/ai_batch_age_seconds 0/);
      await E.deleteItems(store, "small", ["new-1"]);
      expect(await metrics.render()).toMatch(/ai_backlog_items\{workspace="small",status="pending"\} 0/);
    });
  });
}
