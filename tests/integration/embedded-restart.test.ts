import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/server/app.ts";
import { createSluice, type Sluice } from "../../src/sluice.ts";
import { runCli, startCli, waitForExit } from "../harness/cli.ts";
import { freePort } from "../harness/servers.ts";
import { auth, catalogue, metricValue, statusCounts, until } from "./backfill-support.ts";

/**
 * Embedded mode on a data folder that already holds a database: what `sluice dev` meets on every
 * start after the first, and after `sluice restore`. PGlite registers array serializers for the
 * types that exist when it opens, so a restarted folder binds `vector[]` differently from a fresh
 * one; every other test starts on a fresh folder.
 */

interface Running {
  sluice: Sluice;
  app: FastifyInstance;
  close(): Promise<void>;
}

const ENV = { LOG_LEVEL: "silent", EMBEDDING_BACKFILL_SWEEP_MS: "300", FLAGS_CACHE_MS: "100", EMBEDDING_BACKFILL_CHUNK_SIZE: "5" };

async function start(dataDir: string): Promise<Running> {
  const sluice = await createSluice({ env: { ...ENV, SLUICE_DATA_DIR: dataDir } });
  const app = await buildServer(sluice);
  await app.ready();
  await sluice.startWorkers();
  return {
    sluice,
    app,
    async close() {
      await app.close();
      await sluice.close();
    },
  };
}

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

let dataDir: string;
let t: Running | undefined;
let writer: string;
let admin: string;

const put = (r: Running, items: object[]) =>
  r.app.inject({ method: "PUT", url: "/api/workspaces/shop/items", headers: auth(writer), payload: { items } });
const search = (r: Running, query: string) =>
  r.app.inject({ method: "POST", url: "/api/workspaces/shop/search", headers: auth(writer), payload: { query, k: 3 } });
const completed = (r: Running, n: number) =>
  until(
    () => statusCounts(r.sluice, "shop"),
    (c) => c.completed === n,
    30_000,
    `${n} items completed`,
  );

beforeAll(async () => {
  dataDir = tempDir("sluice-restart-");
  const first = await start(dataDir);
  try {
    await first.sluice.intake.ensureWorkspace("shop", "Shop");
    writer = (await first.sluice.intake.createApiKey({ workspaceId: "shop", scopes: ["jobs:write", "jobs:read"] })).secret;
    admin = (await first.sluice.intake.createApiKey({ workspaceId: "shop", scopes: ["operator"] })).secret;
    expect((await put(first, catalogue(2, "first"))).statusCode).toBe(200);
    await completed(first, 2);
  } finally {
    await first.close();
  }
  t = await start(dataDir);
}, 240_000);
afterAll(async () => {
  await t?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("restart on an existing embedded data folder", () => {
  it("embeds items ingested after the restart and counts them", async () => {
    const r = t!;
    expect((await put(r, catalogue(2, "second", 10))).statusCode).toBe(200);
    await completed(r, 4);
    expect(await metricValue(r.app, "ai_embedded_items_total")).toBe(2);
    const ready = await r.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode, ready.body).toBe(200);
  });

  it("finds items embedded before and after the restart", async () => {
    const r = t!;
    const before = (await search(r, "red running shoe model 0")).json<{ hits: { id: string }[] }>();
    expect(before.hits[0]?.id).toBe("first-0");
    const after = (await search(r, "green running shoe model 10")).json<{ hits: { id: string }[] }>();
    expect(after.hits[0]?.id).toBe("second-10");
  });

  // The failed vector write used to leave half a message on PGlite's one session, failing whatever
  // statement came next: /ready, flag reads, BullMQ's own bookkeeping.
  it("runs jobs, flags and /ready without a failure while the backfill writes", async () => {
    const r = t!;
    expect((await put(r, catalogue(40, "third", 100))).statusCode).toBe(200);
    const failures: string[] = [];
    const jobIds: string[] = [];
    for (let i = 0; i < 15; i++) {
      const job = await r.app.inject({
        method: "POST",
        url: "/ai/jobs",
        headers: auth(writer),
        payload: { type: "classify", input: { text: `great product ${i}` }, client_request_id: `restart-${i}` },
      });
      const flag = await r.app.inject({
        method: "PUT",
        url: "/api/flags/task.embed.enabled",
        headers: auth(admin),
        payload: { value: i % 2 === 0, reason: "restart test" },
      });
      const ready = await r.app.inject({ method: "GET", url: "/ready" });
      for (const res of [job, flag, ready]) if (res.statusCode >= 300) failures.push(`${res.statusCode} ${res.body}`);
      jobIds.push(job.json<{ id: string }>().id);
    }
    expect(failures).toEqual([]);
    await completed(r, 44);
    for (const id of jobIds) {
      await until(
        async () => (await r.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: auth(writer) })).json<{ status: string }>().status,
        (s) => s === "completed",
        30_000,
        `job ${id} completed`,
      );
    }
  });

  it("turning the kill switch off and on again resumes the backfill", async () => {
    const r = t!;
    const flag = (value: boolean) =>
      r.app.inject({
        method: "PUT",
        url: "/api/flags/embeddings.backfill.enabled",
        headers: auth(admin),
        payload: { value, reason: "restart test" },
      });
    expect((await flag(false)).statusCode).toBe(200);
    expect((await put(r, catalogue(3, "fourth", 200))).statusCode).toBe(200);
    expect((await flag(true)).statusCode).toBe(200);
    await completed(r, 47);
  });

  it("a backup restored into a new folder starts and embeds new items", async () => {
    // Taken once the backfill job has finished: a job active in the copy waits for BullMQ's stalled-job
    // check in the restored process before the workspace gets a new one.
    const batchQueue = t!.sluice.queues.bullQueues().find((q) => q.name === "ai-batch-queue")!;
    await until(
      () => batchQueue.getActiveCount(),
      (n) => n === 0,
      30_000,
      "no active backfill job",
    );
    const backup = await t!.app.inject({ method: "GET", url: "/api/admin/backup", headers: auth(admin) });
    expect(backup.statusCode).toBe(200);
    const file = join(tempDir("sluice-restart-bk-"), "backup.tar.gz");
    writeFileSync(file, backup.rawPayload);
    const restoredDir = tempDir("sluice-restored-");
    const restored = runCli(["restore", "--from", file], { SLUICE_DATA_DIR: restoredDir });
    expect(restored.status, restored.stderr).toBe(0);
    const r = await start(restoredDir);
    try {
      expect((await put(r, catalogue(2, "fifth", 300))).statusCode).toBe(200);
      await completed(r, 49);
      expect((await search(r, "red running shoe model 300")).json<{ hits: { id: string }[] }>().hits[0]?.id).toBe("fifth-300");
    } finally {
      await r.close();
    }
  }, 180_000);
});

describe("sluice dev stopped and started again on the same folder", () => {
  it("embeds items ingested after the restart", async () => {
    const cwd = tempDir("sluice-dev-restart-");
    const env = { LOG_LEVEL: "warn", EMBEDDING_BACKFILL_SWEEP_MS: "500" };
    const run = async (ids: string, total: number) => {
      const port = await freePort();
      const { child, output } = await startCli(["dev", "--no-demo"], env, port, cwd);
      try {
        const key = await until(
          async () => /Admin key (sk_sluice_\S+)/.exec(output())?.[1],
          (k) => k !== undefined,
          30_000,
          "admin key printed",
        );
        const url = `http://127.0.0.1:${port}`;
        const headers = { authorization: `Bearer ${key!}`, "content-type": "application/json" };
        const res = await fetch(`${url}/api/workspaces/dev/items`, {
          method: "PUT",
          headers,
          body: JSON.stringify({ items: catalogue(2, ids) }),
        });
        expect(res.status).toBe(200);
        const counts = async () => {
          const backlog = (await (await fetch(`${url}/api/embeddings/backlog`, { headers })).json()) as {
            by_workspace: { status: string; count: number }[];
          };
          return backlog.by_workspace.filter((b) => b.status === "completed").reduce((n, b) => n + b.count, 0);
        };
        await until(counts, (n) => n === total, 30_000, `${total} items completed`);
      } finally {
        child.kill("SIGTERM");
        await waitForExit(child);
      }
    };
    await run("one", 2);
    await run("two", 4);
  }, 240_000);
});
