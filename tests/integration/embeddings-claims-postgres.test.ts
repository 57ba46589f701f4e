import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgStore } from "../../src/adapters/store/pg/store.ts";
import type { Store } from "../../src/ports/store.ts";
import * as E from "../../src/pipeline/embeddings/sql/index.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";

/**
 * PGlite runs one statement at a time, so it cannot show two backends racing for the same rows.
 * Debian's PostgreSQL can, but has no pgvector: this file applies migration 0004 with only the
 * vector column and its index swapped out (the claim/report SQL never touches them) and races
 * real connections against each other.
 */
function migrationWithoutVector(): string {
  const sql = readFileSync(fileURLToPath(new URL("../../migrations/0004_embeddings.sql", import.meta.url)), "utf8");
  const swaps: [RegExp, string][] = [
    [/CREATE INDEX IF NOT EXISTS idx_shop_embeddings_vector[^;]+;/, ""],
    [/embedding {5}vector,/, "embedding     bytea,"],
    [/vector_dims\(embedding\)/, "length(embedding)"],
  ];
  return swaps.reduce((text, [pattern, replacement]) => {
    expect(text).toMatch(pattern);
    return text.replace(pattern, replacement);
  }, sql);
}

describe("embeddings claims on PostgreSQL 15 (real concurrent backends, schema without the vector column)", () => {
  const stores: Store[] = [];
  let store: Store;

  beforeAll(async () => {
    const url = await freshPostgresDatabase("emb_claims");
    store = createPgStore({ connectionString: url, poolSize: 4 });
    await migrate(store, { requireVector: false });
    await store.exec(migrationWithoutVector());
    for (let i = 0; i < 3; i++) stores.push(createPgStore({ connectionString: url, poolSize: 4 }));
    await store.query("INSERT INTO workspaces (id, name) VALUES ('race', 'race'), ('other', 'other')");
    const items = (n: number) => Array.from({ length: n }, (_, i) => ({ externalId: `i${i}`, text: `text ${i}` }));
    await E.upsertItems(store, "race", items(3000));
    await E.upsertItems(store, "other", items(500));
  });
  afterAll(async () => {
    for (const s of [store, ...stores]) await s.close();
  });

  it("twelve claimers on separate connections never take the same item and together take all", async () => {
    const claimer = async (db: Store, workerId: string): Promise<number[]> => {
      const mine: number[] = [];
      for (;;) {
        const got = await E.claimItems(db, { workerId, limit: 13 });
        if (got.length === 0) return mine;
        mine.push(...got.map((g) => g.id));
      }
    };
    const runs = stores.flatMap((db, s) => Array.from({ length: 4 }, (_, c) => claimer(db, `w${s}-${c}`)));
    const taken = await Promise.all(runs);
    const all = taken.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(3500);
    expect(taken.filter((t) => t.length > 0).length).toBeGreaterThan(1);
    const { rows } = await store.query<{ n: number }>("SELECT count(*) AS n FROM shop_product_embeddings WHERE status = 'processing'");
    expect(rows[0]?.n).toBe(3500);
  });

  it("releases, fails and reports run on PostgreSQL 15 as on PGlite", async () => {
    const held = await store.query<{ claimed_by: string }>(
      "SELECT DISTINCT claimed_by FROM shop_product_embeddings WHERE status = 'processing'",
    );
    let released = 0;
    for (const { claimed_by } of held.rows) released += await E.releaseClaims(store, { workerId: claimed_by });
    expect(released).toBe(3500);
    const [a] = await E.claimItems(store, { workerId: "x", workspaceId: "other", limit: 1 });
    expect(await E.failItems(store, { workerId: "x", failures: [{ id: a!.id, message: "boom", permanent: true }] })).toEqual({
      requeued: 0,
      failed: 1,
      skipped: 0,
    });
    expect(await E.topPendingWorkspaces(store)).toEqual([
      { workspaceId: "race", pending: 3000 },
      { workspaceId: "other", pending: 499 },
    ]);
    expect(await E.recentErrors(store)).toEqual([{ errorMessage: "boom", count: 1 }]);
    expect(await E.backlogGauge(store, { maxWorkspaces: 1 })).toEqual([
      { workspace: "_other", status: "failed", count: 1 },
      { workspace: "_other", status: "pending", count: 499 },
      { workspace: "_other", status: "processing", count: 0 },
      { workspace: "race", status: "failed", count: 0 },
      { workspace: "race", status: "pending", count: 3000 },
      { workspace: "race", status: "processing", count: 0 },
    ]);
    expect(await E.retryFailed(store)).toBe(1);
    expect(await E.reindexWorkspace(store, "race")).toBe(0);
    expect(await E.oldestOpenBatchAgeSeconds(store)).toBe(0);
    expect((await E.vacuumAnalyze(store)).length).toBe(2);
  });
});
