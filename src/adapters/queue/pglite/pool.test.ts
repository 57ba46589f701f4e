import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PGlite } from "@electric-sql/pglite";
import { createPgliteStore } from "../../store/pglite/store.ts";
import { openPglite } from "../../store/pglite/open.ts";
import { classifyStatement } from "./statements.ts";
import { createPglitePool, type PgNotificationMessage, type PglitePool } from "./pool.ts";
import { testPgliteDataDir } from "../../../../tests/harness/pglite-template.ts";

describe("PGlite pg.Pool adapter", () => {
  let db: PGlite;
  let pool: PglitePool;
  beforeAll(async () => {
    db = await openPglite(testPgliteDataDir());
    pool = await createPglitePool(db);
    await pool.query("CREATE TABLE counters (id text PRIMARY KEY, n int8 NOT NULL)");
  });
  afterAll(async () => {
    await pool.end();
    await db.close();
  });

  it("returns int8 and numeric as text, like node-postgres, and parses json", async () => {
    const { rows, rowCount } = await pool.query<{ big: string; arr: string[]; num: string; j: { a: number } }>(
      "SELECT $1::int8 AS big, ARRAY[1, 9007199254740993]::int8[] AS arr, 1.50::numeric AS num, $2::jsonb AS j",
      ["9007199254740993", JSON.stringify({ a: 1 })],
    );
    expect(rows[0]).toEqual({ big: "9007199254740993", arr: ["1", "9007199254740993"], num: "1.50", j: { a: 1 } });
    expect(rowCount).toBe(1);
  });

  it("runs parameterless multi-statement text through exec (migrations)", async () => {
    const result = await pool.query("CREATE TABLE multi (a int); INSERT INTO multi VALUES (1), (2); SELECT count(*) AS n FROM multi;");
    expect(result.rows).toEqual([{ n: "2" }]);
  });

  it("leaves the Sluice store's own parsing alone on the shared instance", async () => {
    const store = await createPgliteStore({ db });
    const { rows } = await store.query<{ n: number }>("SELECT 42::int8 AS n");
    expect(rows[0]?.n).toBe(42);
  });

  it("gives a client that BEGINs the whole instance until COMMIT; others wait", async () => {
    const client = await pool.connect();
    await client.query("BEGIN");
    await client.query("INSERT INTO counters VALUES ('tx', 1)");
    const order: string[] = [];
    const outside = pool.query<{ n: string }>("SELECT count(*) AS n FROM counters WHERE id = 'tx'").then((r) => {
      order.push("outside");
      return r.rows[0]?.n;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.query("UPDATE counters SET n = n + 1 WHERE id = 'tx'");
    order.push("commit");
    await client.query("COMMIT");
    expect(await outside).toBe("1");
    expect(order).toEqual(["commit", "outside"]);
    client.release();
  });

  it("rolls back on ROLLBACK and on release mid-transaction", async () => {
    const client = await pool.connect();
    await client.query("BEGIN");
    await client.query("INSERT INTO counters VALUES ('rolled', 1)");
    await client.query("ROLLBACK");
    const second = await pool.connect();
    await second.query("BEGIN");
    await second.query("INSERT INTO counters VALUES ('released', 1)");
    second.release();
    const { rows } = await pool.query<{ id: string }>("SELECT id FROM counters WHERE id IN ('rolled', 'released')");
    expect(rows).toEqual([]);
    client.release();
  });

  it("recovers after an error inside a transaction and a ROLLBACK", async () => {
    const client = await pool.connect();
    await client.query("BEGIN");
    await expect(client.query("SELECT * FROM no_such_table")).rejects.toMatchObject({ code: "42P01" });
    await expect(client.query("SELECT 1")).rejects.toThrow(/aborted/);
    await client.query("ROLLBACK");
    expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    client.release();
  });

  it("delivers NOTIFY to clients that LISTEN, until they UNLISTEN", async () => {
    const client = await pool.connect();
    const got: PgNotificationMessage[] = [];
    client.on("notification", (m: PgNotificationMessage) => got.push(m));
    await client.query("-- BullMQ prefixes its command files with comments\nLISTEN bullmq_jobs;\n");
    await pool.query("SELECT pg_notify('bullmq_jobs', $1)", ["queue-a"]);
    await pool.query("SELECT pg_notify('other', 'x')");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(got).toEqual([{ channel: "bullmq_jobs", payload: "queue-a", processId: 0 }]);
    await client.query("UNLISTEN bullmq_jobs");
    await pool.query("SELECT pg_notify('bullmq_jobs', 'queue-b')");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(got).toHaveLength(1);
    client.release();
  });

  it("keeps application_name per client, so worker discovery counts clients, not the one session", async () => {
    const a = await pool.connect();
    const b = await pool.connect();
    await a.query("SELECT set_config('application_name', $1, false)", ["q1"]);
    await b.query("SELECT set_config('application_name', $1, false)", ["q1:w:two"]);
    const list = await pool.query<{ application_name: string }>(
      "SELECT application_name\nFROM pg_stat_activity\nWHERE datname = current_database()\n  AND application_name <> '';",
    );
    expect(list.rows.map((r) => r.application_name).sort()).toEqual(["q1", "q1:w:two"]);
    b.release();
    expect((await pool.query("SELECT application_name FROM pg_stat_activity WHERE application_name <> ''")).rows).toHaveLength(1);
    a.release();
    const real = await db.query<{ name: string }>("SELECT current_setting('application_name') AS name");
    expect(real.rows[0]?.name).not.toBe("q1");
  });

  it("appends the bullmq schema to the search_path without displacing public", async () => {
    const { rows } = await pool.query<{ search_path: string }>("SHOW search_path");
    expect(rows[0]?.search_path).toMatch(/public, "bullmq"$/);
  });

  it("refuses transaction control on the pool itself and everything after end()", async () => {
    await expect(pool.query("BEGIN")).rejects.toThrow(/dedicated client/);
    const other = await createPglitePool(db);
    await other.end();
    await expect(other.query("SELECT 1")).rejects.toThrow("Cannot use a pool after calling end on the pool");
  });

  it("classifies only the statements it must handle itself", () => {
    expect(classifyStatement("begin")).toEqual({ kind: "begin" });
    expect(classifyStatement("START TRANSACTION ISOLATION LEVEL SERIALIZABLE")).toEqual({ kind: "begin" });
    expect(classifyStatement("COMMIT;")).toEqual({ kind: "commit" });
    expect(classifyStatement("ROLLBACK")).toEqual({ kind: "rollback" });
    expect(classifyStatement("ROLLBACK TO SAVEPOINT a")).toEqual({ kind: "other" });
    expect(classifyStatement('LISTEN "MixedCase"')).toEqual({ kind: "listen", channel: "MixedCase" });
    expect(classifyStatement("UNLISTEN *")).toEqual({ kind: "unlisten", channel: "*" });
    expect(classifyStatement("SELECT 'LISTEN x'")).toEqual({ kind: "other" });
    expect(classifyStatement("/* c */ END")).toEqual({ kind: "commit" });
  });
});
