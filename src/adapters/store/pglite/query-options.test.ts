import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../../ports/store.ts";
import { createPglitePool, type PglitePool } from "../../queue/pglite/pool.ts";
import { createPgliteStore } from "./store.ts";
import { testPgliteDataDir } from "../../../../tests/harness/pglite-template.ts";

describe("statements on the shared PGlite instance", () => {
  let db: PGlite;
  let store: Store;
  let pool: PglitePool;

  beforeAll(async () => {
    db = await PGlite.create({ dataDir: testPgliteDataDir() });
    store = await createPgliteStore({ db });
    pool = await createPglitePool(db);
  });
  afterAll(async () => {
    await pool.end();
    await db.close();
  });

  // PGlite's array serializer returns a non-array unchanged, and an object half-way through a Bind
  // message used to leave the rest of that message in front of the next caller's statement (08P01).
  it("a parameter PGlite cannot serialize fails its own statement only", async () => {
    await expect(store.query("SELECT $1::int[] AS a", [{ not: "an array" }])).rejects.toThrow(/serializes to object/);
    await expect(pool.query("SELECT $1::int[] AS a", [{ not: "an array" }])).rejects.toThrow(/serializes to object/);
    expect((await store.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    expect((await pool.query<{ two: string }>("SELECT $1::int8 AS two", [2])).rows).toEqual([{ two: "2" }]);
    expect((await store.query<{ a: number[] }>("SELECT $1::int[] AS a", [[1, 2]])).rows).toEqual([{ a: [1, 2] }]);
  });

  // PGlite answers through already-resolved promises: without a yield a loop of statements never
  // lets a timer or a socket run until it ends (the API stalled behind the backfill).
  it.each([
    ["the store", () => store.query("SELECT 1")],
    ["the queue pool", () => pool.query("SELECT $1::int AS n", [1])],
  ])("a loop of statements on %s lets timers run in between", async (_name, statement) => {
    let firedAt: number | undefined;
    let done = 0;
    setTimeout(() => (firedAt = done), 0);
    const started = Date.now();
    // Long enough for the timer's 1 ms minimum to pass whatever the machine's load.
    while (Date.now() - started < 200 || done < 50) {
      await statement();
      done += 1;
    }
    expect(firedAt).toBeDefined();
    expect(firedAt).toBeLessThan(done);
  });
});
