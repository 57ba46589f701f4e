import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgStore } from "../../src/adapters/store/pg/store.ts";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import type { Store } from "../../src/ports/store.ts";
import * as E from "../../src/pipeline/embeddings/sql/index.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import { servePgliteOnTheWire } from "../harness/pglite-wire.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

// Runbook 000 (seeds/000_302544d9ea5546e1.txt), its SQL copied verbatim: no rename was needed.
const RUNBOOK = {
  backlogPerShop: `SELECT shop_id, status, COUNT(*) AS count
FROM shop_product_embeddings
GROUP BY shop_id, status
ORDER BY count DESC;`,
  stuckBatches: `SELECT id, shop_id, status, total_items, completed_items,
       now() - submitted_at AS age
FROM embedding_batches
WHERE status IN ('submitted', 'processing')
  AND submitted_at < now() - interval '2 hours';`,
  top10: `SELECT shop_id, COUNT(*) AS pending
FROM shop_product_embeddings
WHERE status = 'pending'
GROUP BY shop_id
ORDER BY pending DESC
LIMIT 10;`,
  recentErrors: `SELECT error_message, COUNT(*) AS count
FROM shop_product_embeddings
WHERE status = 'failed'
  AND updated_at > now() - interval '1 hour'
GROUP BY error_message
ORDER BY count DESC;`,
  reindexShop: `UPDATE shop_product_embeddings
SET status = 'pending', retry_count = 0
WHERE shop_id = 'UUID-SHOP-ID';`,
  reindexFailed: `UPDATE shop_product_embeddings
SET status = 'pending', retry_count = 0
WHERE status = 'failed' AND retry_count < 3;`,
  vacuumItems: "VACUUM ANALYZE shop_product_embeddings;",
  vacuumBatches: "VACUUM ANALYZE embedding_batches;",
  reindexIndex: "REINDEX INDEX CONCURRENTLY idx_shop_embeddings_vector;",
} as const;

const SEED = fileURLToPath(new URL("../../../shared/seeds/000_302544d9ea5546e1.txt", import.meta.url));

const targets = [
  {
    name: "PGlite in-process",
    open: async () => ({
      store: (await createPgliteStore({ dataDir: testPgliteDataDir() })) as Store,
      close: async () => undefined as void,
    }),
  },
  {
    name: "PGlite over the wire (pg driver)",
    open: async () => {
      const wire = await servePgliteOnTheWire(10);
      const store: Store = createPgStore({ connectionString: wire.url, poolSize: 2 });
      return {
        store,
        close: async () => {
          await wire.close();
        },
      };
    },
  },
];

describe("runbook 000 SQL text", () => {
  it.runIf(existsSync(SEED))("is copied verbatim from the seed runbook", () => {
    const seed = readFileSync(SEED, "utf8");
    for (const sql of Object.values(RUNBOOK)) expect(seed).toContain(sql);
  });
});

/** Fills three workspaces: pending, completed, failed by exhaustion (3) and permanently (1), plus a stuck batch. */
async function seed(store: Store): Promise<void> {
  const next = E.clusteredVectors({ dimensions: 384, seed: 5 });
  for (const [ws, n] of [
    ["UUID-SHOP-ID", 6],
    ["shop-b", 12],
    ["shop-c", 3],
  ] as const) {
    await store.query("INSERT INTO workspaces (id, name) VALUES ($1, $1)", [ws]);
    await E.upsertItems(
      store,
      ws,
      Array.from({ length: n }, (_, i) => ({ externalId: `p${i}`, text: `${ws} product ${i}` })),
    );
  }
  const done = await E.claimItems(store, { workerId: "w", workspaceId: "UUID-SHOP-ID", limit: 4 });
  await E.completeItems(store, { workerId: "w", model: "m1", results: done.map((d) => ({ id: d.id, vector: next() })) });
  const [exhausted, permanent] = await E.claimItems(store, { workerId: "w", workspaceId: "shop-c", limit: 2 });
  await E.failItems(store, { workerId: "w", failures: [{ id: exhausted!.id, message: "429 Too Many Requests" }], maxAttempts: 1 });
  await store.query("UPDATE shop_product_embeddings SET retry_count = 3 WHERE id = $1", [exhausted!.id]);
  await E.failItems(store, { workerId: "w", failures: [{ id: permanent!.id, message: "input too long", permanent: true }] });
  const held = await E.claimItems(store, { workerId: "w", workspaceId: "shop-b", limit: 2 });
  const batch = await E.createBatch(store, {
    workerId: "w",
    itemIds: held.map((h) => h.id),
    provider: "openai",
    model: "m1",
    dimensions: 384,
    workspaceId: "shop-b",
  });
  await store.query("UPDATE embedding_batches SET submitted_at = now() - interval '3 hours' WHERE id = $1", [batch.id]);
}

for (const target of targets) {
  describe(`runbook 000 SQL, verbatim: ${target.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;

    beforeAll(async () => {
      ({ store, close } = await target.open());
      await migrate(store);
      await seed(store);
    });
    afterAll(async () => {
      await store.close();
      await close();
    });

    it("Investigare Backlog: the four queries answer as Sluice's reports do", async () => {
      const backlog = await store.query<{ shop_id: string; status: string; count: number }>(RUNBOOK.backlogPerShop);
      expect(backlog.rows[0]).toEqual({ shop_id: "shop-b", status: "pending", count: 10 });
      expect(backlog.rows.map((r) => [r.shop_id, r.status, r.count]).sort()).toEqual(
        (await E.backlogByWorkspace(store)).map((r) => [r.workspaceId, r.status, r.count]).sort(),
      );

      const stuck = await store.query<{
        id: number;
        shop_id: string;
        status: string;
        total_items: number;
        completed_items: number;
        age: unknown;
      }>(RUNBOOK.stuckBatches);
      expect(stuck.rows).toHaveLength(1);
      expect(stuck.rows[0]).toMatchObject({ shop_id: "shop-b", status: "submitted", total_items: 2, completed_items: 0 });
      expect((await E.stuckBatches(store)).map((b) => b.id)).toEqual(stuck.rows.map((r) => r.id));

      const top = await store.query<{ shop_id: string; pending: number }>(RUNBOOK.top10);
      expect(top.rows).toEqual([
        { shop_id: "shop-b", pending: 10 },
        { shop_id: "UUID-SHOP-ID", pending: 2 },
        { shop_id: "shop-c", pending: 1 },
      ]);
      expect((await E.topPendingWorkspaces(store)).map((r) => ({ shop_id: r.workspaceId, pending: r.pending }))).toEqual(top.rows);

      const errors = await store.query<{ error_message: string; count: number }>(RUNBOOK.recentErrors);
      expect(errors.rows.map((r) => [r.error_message, r.count]).sort()).toEqual([
        ["429 Too Many Requests", 1],
        ["input too long", 1],
      ]);
    });

    it("Reindexare: the shop UPDATE re-queues the shop; the failed UPDATE only re-queues failures below 3 attempts", async () => {
      const shop = await store.query(RUNBOOK.reindexShop);
      expect(shop.rowCount).toBe(6);
      expect(await E.backlogByWorkspace(store, { workspaceId: "UUID-SHOP-ID" })).toEqual([
        { workspaceId: "UUID-SHOP-ID", status: "pending", count: 6 },
      ]);

      const failed = await store.query(RUNBOOK.reindexFailed);
      expect(failed.rowCount).toBe(1);
      const left = await store.query<{ error_message: string; retry_count: number }>(
        "SELECT error_message, retry_count FROM shop_product_embeddings WHERE status = 'failed'",
      );
      expect(left.rows).toEqual([{ error_message: "429 Too Many Requests", retry_count: 3 }]);
      // Sluice's explicit "retry everything failed", which the runbook's query does not do:
      expect(await E.retryFailed(store, { force: true })).toBe(1);
    });

    it("VACUUM ANALYZE and REINDEX INDEX CONCURRENTLY run as written, and search still works after", async () => {
      await store.exec(RUNBOOK.vacuumItems);
      await store.exec(RUNBOOK.vacuumBatches);
      await store.exec(RUNBOOK.reindexIndex);
      const { rows } = await store.query<{ n: number }>(
        "SELECT count(*) AS n FROM pg_stat_user_tables WHERE relname IN ('shop_product_embeddings', 'embedding_batches') AND last_analyze IS NOT NULL",
      );
      expect(rows[0]?.n).toBe(2);
      const [vector] = await store
        .query<{ v: string }>("SELECT embedding::text AS v FROM shop_product_embeddings WHERE embedding IS NOT NULL LIMIT 1")
        .then((r) => r.rows);
      const hits = await E.searchItems(store, "UUID-SHOP-ID", { vector: JSON.parse(vector!.v) as number[], k: 4 });
      expect(hits).toHaveLength(4);
      expect(hits[0]!.score).toBeCloseTo(1, 5);
    });
  });
}
