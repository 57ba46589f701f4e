import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceError } from "../../../src/core/errors.ts";
import type { Store } from "../../../src/ports/store.ts";
import { migrate } from "../../../src/pipeline/migrator.ts";

export interface StoreTarget {
  name: string;
  /** Makes a store on an empty database; `second` opens another connection to the same one. */
  open(): Promise<{ store: Store; second?: () => Promise<Store>; cleanup?: () => Promise<void> }>;
  /** Whether the target has pgvector. */
  vector: boolean;
}

/** The Store port's conformance suite: every adapter runs these same tests. */
export function storeConformance(target: StoreTarget): void {
  describe(`Store conformance: ${target.name}`, () => {
    let store: Store;
    let second: (() => Promise<Store>) | undefined;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, second, cleanup } = await target.open());
      await migrate(store, { requireVector: target.vector });
    });
    afterAll(async () => {
      await store.close();
      await cleanup?.();
    });

    it("round-trips parameters and returns int8 as numbers, timestamps as Date, jsonb parsed", async () => {
      const { rows } = await store.query<{ n: number; t: Date; j: { a: number[] }; s: string; arr: string[] }>(
        "SELECT 9007199254740::int8 AS n, now() AS t, $1::jsonb AS j, $2::text AS s, $3::text[] AS arr",
        [JSON.stringify({ a: [1, 2] }), "héllo", ["x", "y"]],
      );
      expect(rows[0]).toMatchObject({ n: 9007199254740, j: { a: [1, 2] }, s: "héllo", arr: ["x", "y"] });
      expect(rows[0]?.t).toBeInstanceOf(Date);
    });

    it("reports affected rows", async () => {
      await store.query("INSERT INTO workspaces (id, name) VALUES ($1, $2), ($3, $4)", ["w1", "One", "w2", "Two"]);
      const result = await store.query("UPDATE workspaces SET name = name || '!' WHERE id IN ('w1','w2')");
      expect(result.rowCount).toBe(2);
      const count = await store.query<{ n: number }>("SELECT count(*) AS n FROM workspaces");
      expect(count.rows[0]?.n).toBe(2);
    });

    it("commits a transaction that resolves and rolls back one that throws", async () => {
      await store.transaction(async (tx) => {
        await tx.query("INSERT INTO workspaces (id, name) VALUES ('tx-ok', 'ok')");
      });
      await expect(
        store.transaction(async (tx) => {
          await tx.query("INSERT INTO workspaces (id, name) VALUES ('tx-bad', 'bad')");
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      const { rows } = await store.query<{ id: string }>("SELECT id FROM workspaces WHERE id LIKE 'tx-%' ORDER BY id");
      expect(rows.map((r) => r.id)).toEqual(["tx-ok"]);
    });

    it("translates a unique violation to CONFLICT", async () => {
      await store.query("INSERT INTO workspaces (id, name) VALUES ('dup', 'a')");
      const err = await store.query("INSERT INTO workspaces (id, name) VALUES ('dup', 'b')").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SluiceError);
      expect((err as SluiceError).code).toBe("CONFLICT");
    });

    it("runs multi-statement scripts with exec", async () => {
      await store.exec("CREATE TABLE exec_probe (id int); INSERT INTO exec_probe VALUES (1), (2);");
      const { rows } = await store.query<{ n: number }>("SELECT count(*) AS n FROM exec_probe");
      expect(rows[0]?.n).toBe(2);
    });

    it("re-running migrations is a no-op", async () => {
      const before = await store.query<{ n: number }>("SELECT count(*) AS n FROM sluice_migrations");
      const again = await migrate(store, { requireVector: target.vector });
      expect(again.applied).toEqual([]);
      const after = await store.query<{ n: number }>("SELECT count(*) AS n FROM sluice_migrations");
      expect(after.rows[0]?.n).toBe(before.rows[0]?.n);
      expect(again.current).toBeGreaterThanOrEqual(1);
    });

    it("two concurrent migrators on one fresh database apply each migration once", async (ctx) => {
      if (!second) return ctx.skip();
      const fresh = await target.open();
      const other = await fresh.second!();
      try {
        const [a, b] = await Promise.all([
          migrate(fresh.store, { requireVector: target.vector }),
          migrate(other, { requireVector: target.vector }),
        ]);
        const total = [...a.applied, ...b.applied].sort();
        const { rows } = await fresh.store.query<{ name: string }>("SELECT name FROM sluice_migrations ORDER BY name");
        expect(total).toEqual(rows.map((r) => r.name));
        expect(new Set(total).size).toBe(total.length);
        expect(a.applied.length === 0 || b.applied.length === 0).toBe(true);
      } finally {
        await other.close();
        await fresh.store.close();
        await fresh.cleanup?.();
      }
    });

    it("pings and closes idempotently", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe.runIf(target.vector)("pgvector", () => {
      it("has the extension and answers cosine nearest-neighbour queries through an HNSW index", async () => {
        expect(await store.hasVectorExtension()).toBe(true);
        await store.exec(`CREATE TABLE vec_probe (id int PRIMARY KEY, embedding vector(3));
          CREATE INDEX vec_probe_hnsw ON vec_probe USING hnsw (embedding vector_cosine_ops);`);
        await store.query("INSERT INTO vec_probe VALUES (1, $1), (2, $2), (3, $3)", ["[1,0,0]", "[0,1,0]", "[0.9,0.1,0]"]);
        const { rows } = await store.query<{ id: number; score: number }>(
          "SELECT id, 1 - (embedding <=> $1::vector) AS score FROM vec_probe ORDER BY embedding <=> $1::vector LIMIT 2",
          ["[1,0,0]"],
        );
        expect(rows.map((r) => r.id)).toEqual([1, 3]);
        expect(rows[0]?.score).toBeCloseTo(1, 5);
      });
    });
  });
}
