import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueWorkerView, WorkerProcessView } from "../../src/pipeline/queues/worker-registry.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/** The worker view and WORKER_QUEUES / WORKER_CONCURRENCY on every engine (fleet reports on Redis, else the store). */
describe.each(embeddedAndServers("wreg", 39))("worker registry on $name", ({ env: engineEnv }) => {
  let t: TestSluice;
  let operator: string;
  const get = async <T>(url: string) => {
    const res = await t.app.inject({ method: "GET", url, headers: { authorization: `Bearer ${operator}` } });
    return { status: res.statusCode, body: res.json<T>() };
  };

  beforeAll(async () => {
    t = await startTestSluice({
      ...(await engineEnv()),
      QUEUES: "sentiment",
      WORKER_QUEUES: "churn,ai-jobs",
      WORKER_CONCURRENCY: "churn=4",
      QUEUE_CONCURRENCY: "2",
      FLAGS_CACHE_MS: "100",
    });
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    await t.sluice.startWorkers({ role: "all" });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it("starts workers only on WORKER_QUEUES, at WORKER_CONCURRENCY, and lists the process (GET /api/admin/workers)", async () => {
    const [self] = await until(
      async () => (await get<{ workers: WorkerProcessView[] }>("/api/admin/workers")).body.workers,
      (w) => w.length === 1,
      10_000,
      "the process to register",
    );
    expect(self).toMatchObject({ pid: process.pid, role: "all", active: 0 });
    expect(self?.queues).toEqual([
      { queue: "ai-jobs", concurrency: 2, configured_concurrency: 2, active: 0 },
      { queue: "churn", concurrency: 4, configured_concurrency: 4, active: 0 },
    ]);
    expect(t.sluice.queues.has("churn")).toBe(true); // declared because a worker serves it
  });

  it("GET /api/admin/workers/{queue}: the processes serving it, none for a queue nobody serves, 404 for no such queue", async () => {
    const churn = await get<{ queue: string; workers: QueueWorkerView[] }>("/api/admin/workers/churn");
    expect(churn.body.workers).toEqual([expect.objectContaining({ pid: process.pid, role: "all", concurrency: 4, active: 0 })]);
    expect((await get<{ workers: QueueWorkerView[] }>("/api/admin/workers/sentiment")).body.workers).toEqual([]);
    const missing = await get<{ error: { code: string } }>("/api/admin/workers/nope");
    expect([missing.status, missing.body.error.code]).toEqual([404, "QUEUE_NOT_FOUND"]);
  });

  it("applies a runtime concurrency override and drops it again", async () => {
    const post = (concurrency: number | null) =>
      t.app.inject({
        method: "POST",
        url: "/api/admin/workers/concurrency",
        headers: { authorization: `Bearer ${operator}` },
        payload: { queue: "churn", concurrency },
      });
    expect((await post(7)).statusCode).toBe(200);
    await until(
      async () => (await get<{ workers: QueueWorkerView[] }>("/api/admin/workers/churn")).body.workers[0]?.concurrency,
      (c) => c === 7,
      10_000,
      "concurrency 7",
    );
    expect((await post(null)).statusCode).toBe(200);
    await until(
      async () => (await get<{ workers: QueueWorkerView[] }>("/api/admin/workers/churn")).body.workers[0]?.concurrency,
      (c) => c === 4,
      10_000,
      "back to 4",
    );
  });
});
