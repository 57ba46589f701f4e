import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite } from "../../src/adapters/store/pglite/open.ts";
import { redisUrl } from "../harness/databases.ts";
import { freePort } from "../harness/servers.ts";
import { auth, catalogue, metricValue, startLoggedSluice, statusCounts, until, type LoggedSluice } from "./backfill-support.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

/**
 * The production shape: two Sluice processes (here two instances) sharing queues on a real Redis and
 * a PostgreSQL database with pgvector (PGlite served over the wire: Debian's PostgreSQL has no
 * pgvector), both running the backfill worker. Every item is embedded exactly once between them,
 * the sweep scheduler is shared, and search works from either.
 */

let db: PGlite;
let server: PGLiteSocketServer;
let a: LoggedSluice;
let b: LoggedSluice;

beforeAll(async () => {
  db = await openPglite(testPgliteDataDir());
  const port = await freePort();
  server = new PGLiteSocketServer({ db, port, host: "127.0.0.1", maxConnections: 20 });
  await server.start();
  const redis = redisUrl(9);
  const { Redis } = await import("ioredis");
  const flush = new Redis(redis);
  await flush.flushdb();
  await flush.quit();
  const env = {
    DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`,
    // PGlite has one session: one connection per process keeps each transaction on its own.
    DATABASE_POOL_SIZE: "1",
    REDIS_URL: redis,
    EMBEDDING_BACKFILL_CHUNK_SIZE: "25",
    EMBEDDING_BACKFILL_SWEEP_MS: "400",
    FLAGS_CACHE_MS: "100",
  };
  a = await startLoggedSluice(env);
  b = await startLoggedSluice(env);
  await a.sluice.startWorkers();
  await b.sluice.startWorkers();
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await server?.stop();
  await db?.close();
});

describe("two worker processes, Redis queues, PGlite over the wire", () => {
  it("embeds every item exactly once between them and both answer searches", async () => {
    const shops = ["shop-1", "shop-2", "shop-3", "shop-4"];
    for (const ws of [...shops, "ops"]) await a.sluice.intake.ensureWorkspace(ws, ws);
    const admin = (await a.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    for (const [i, ws] of shops.entries()) {
      const res = await (i % 2 ? b : a).app.inject({
        method: "PUT",
        url: `/api/workspaces/${ws}/items`,
        headers: auth(admin),
        payload: { items: catalogue(75, ws) },
      });
      expect(res.statusCode).toBe(200);
    }
    await until(
      () => statusCounts(a.sluice),
      (c) => c.completed === 300,
      60_000,
      "300 items completed",
    );

    const embedded = [await metricValue(a.app, "ai_embedded_items_total"), await metricValue(b.app, "ai_embedded_items_total")];
    expect(embedded[0]! + embedded[1]!).toBe(300);
    const { rows } = await a.sluice.store.query<{ n: number }>(
      "SELECT count(*) AS n FROM shop_product_embeddings WHERE retry_count <> 0 OR claimed_by IS NOT NULL",
    );
    expect(rows[0]?.n).toBe(0);

    for (const t of [a, b]) {
      const res = await t.app.inject({
        method: "POST",
        url: "/api/workspaces/shop-3/search",
        headers: auth(admin),
        payload: { query: "red running shoe model 20", k: 5 },
      });
      expect(res.json<{ hits: Array<{ id: string }> }>().hits[0]?.id).toBe("shop-3-20");
    }
    // One scheduler for the sweep, whichever process upserted it last.
    const schedulers = await a.sluice.queues
      .bullQueues()
      .find((q) => q.name === "ai-batch-queue")
      ?.getJobSchedulers();
    expect(schedulers?.map((s) => s.key)).toEqual(["embeddings-backfill-sweep"]);
  });
});
