import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inRequestLane } from "../../../core/request-lane.ts";
import type { Store } from "../../../ports/store.ts";
import { createPglitePool, type PglitePool } from "../../queue/pglite/pool.ts";
import { StatementGate } from "./statement-gate.ts";
import { createPgliteStore } from "./store.ts";
import { testPgliteDataDir } from "../../../../tests/harness/pglite-template.ts";

describe("the request lane on the shared PGlite instance", () => {
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

  /** Starts `count` background statements at once and returns their completion records. */
  function background(count: number, statement: () => Promise<unknown>, finished: string[]): Promise<unknown[]> {
    return Promise.all(Array.from({ length: count }, (_, i) => statement().then(() => finished.push(`background ${i}`))));
  }

  it.each([
    ["store", () => store.query("SELECT pg_sleep(0.001)")],
    ["queue pool", () => pool.query("SELECT pg_sleep(0.001), $1::int", [1])],
  ])("a request's statement overtakes the %s statements already queued", async (_name, statement) => {
    const finished: string[] = [];
    const queued = background(40, statement, finished);
    await inRequestLane(() => store.query("SELECT 1").then(() => finished.push("request")));
    await queued;
    // First come, first served would put it last (41st); at most the one in flight, plus the one
    // handed over in the same turn, goes before it.
    expect(finished.indexOf("request")).toBeLessThanOrEqual(2);
  });

  it("a request's statement waits for a background transaction to end, never runs inside it", async () => {
    const events: string[] = [];
    let requestDone: Promise<unknown> | undefined;
    await store.transaction(async (tx) => {
      await tx.query("CREATE TEMP TABLE lane_probe (n int)");
      requestDone = inRequestLane(() => store.query("SELECT count(*) AS n FROM lane_probe").then(() => events.push("request")));
      await tx.query("INSERT INTO lane_probe VALUES (1)");
      await tx.query("SELECT pg_sleep(0.02)");
      events.push("transaction body done");
    });
    await requestDone;
    expect(events).toEqual(["transaction body done", "request"]);
  });

  it("a queue client's BEGIN holds the gate until COMMIT; a request statement goes right after", async () => {
    const events: string[] = [];
    const client = await pool.connect();
    await client.query("BEGIN");
    const tail = background(5, () => pool.query("SELECT 1"), events);
    const request = inRequestLane(() => store.query("SELECT 1").then(() => events.push("request")));
    await client.query("SELECT pg_sleep(0.02)");
    events.push("commit");
    await client.query("COMMIT");
    client.release();
    await Promise.all([tail, request]);
    expect(events.slice(0, 2)).toEqual(["commit", "request"]);
  });
});

describe("StatementGate", () => {
  it("gives background work a turn during a long run of request statements", async () => {
    const gate = new StatementGate();
    const order: string[] = [];
    const hold = gate.run(() => new Promise((r) => setTimeout(r, 10)));
    const backgroundDone = gate.run(async () => order.push("background"));
    const requests = inRequestLane(() =>
      Promise.all(Array.from({ length: 3 * StatementGate.REQUEST_BURST }, (_, i) => gate.run(async () => order.push(`request ${i}`)))),
    );
    await Promise.all([hold, backgroundDone, requests]);
    expect(order.indexOf("background")).toBe(StatementGate.REQUEST_BURST);
  });

  it("releases the gate when the holder throws", async () => {
    const gate = new StatementGate();
    await expect(gate.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(gate.run(async () => "next")).resolves.toBe("next");
  });
});
