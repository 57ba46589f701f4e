import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgPoolPair } from "../../src/adapters/queue/postgres/pools.ts";
import { createPgStore } from "../../src/adapters/store/pg/store.ts";
import { createDatabase, startRestartablePostgres, uniqueName, type RestartableServer } from "../harness/servers.ts";
import { sleep } from "../harness/wait.ts";

/**
 * PostgreSQL restarts while a connection is checked out of a pool (a store transaction between two
 * statements; a BullMQ session on the queue pools). pg-pool takes its error listener off a client it
 * hands out, so the dropped connection's 'error' reached nobody and crashed the process (seen in CI
 * as an uncaught "Connection terminated unexpectedly"). Now the next statement on it fails, and the
 * process lives.
 */
describe("a PostgreSQL restart while a pooled connection is held", { timeout: 60_000 }, () => {
  let server: RestartableServer;
  let url: string;
  const uncaught: unknown[] = [];
  const record = (err: unknown) => uncaught.push(err);

  beforeAll(async () => {
    server = await startRestartablePostgres();
    url = await createDatabase(server.url, uniqueName("heldclient"));
    process.prependListener("uncaughtException", record);
  }, 60_000);
  afterAll(async () => {
    process.removeListener("uncaughtException", record);
    await server?.stop();
  });

  async function haltWhileHeld(hold: () => Promise<void>): Promise<void> {
    uncaught.length = 0;
    await hold();
    await server.halt("SIGINT");
    await sleep(500);
    await server.resume();
  }

  it("store: the transaction's next statement fails; no uncaught error", async () => {
    const store = createPgStore({ connectionString: url, poolSize: 2 });
    try {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let inside!: () => void;
      const entered = new Promise<void>((r) => (inside = r));
      const tx = store.transaction(async (t) => {
        await t.query("SELECT 1");
        inside();
        await gate;
        await t.query("SELECT 2");
      });
      const outcome = tx.then(
        () => "committed",
        () => "failed",
      );
      await haltWhileHeld(() => entered);
      release();
      expect(await outcome).toBe("failed");
      expect(uncaught).toEqual([]);
      // The pool serves again once the server is back.
      expect((await store.query<{ one: number }>("SELECT 1 AS one")).rows[0]?.one).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("queue pools: a held session's next query fails; no uncaught error", async () => {
    const pools = new PgPoolPair({ connectionString: url, querySize: 1, sessionMax: 2, schema: "public" });
    try {
      const session = await pools.connect();
      await haltWhileHeld(async () => {
        await session.query("SELECT 1");
      });
      await expect(session.query("SELECT 1")).rejects.toThrow();
      session.release(true);
      expect(uncaught).toEqual([]);
      expect((await pools.query("SELECT 1 AS one")).rows[0]).toEqual({ one: 1 });
    } finally {
      await pools.end();
    }
  });
});
