import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SluiceError } from "../../src/core/errors.ts";
import type { QueueListing } from "../../src/pipeline/queues/types.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

type Listing = QueueListing;

describe("queue admin over HTTP (embedded)", () => {
  let t: TestSluice;
  let adminKey: string;
  let writer: string;
  let failNext = true;
  const auth = () => ({ authorization: `Bearer ${adminKey}` });
  const stats = async (name: string) =>
    (await t.app.inject({ method: "GET", url: `/api/queues/${name}`, headers: auth() })).json<Listing>();
  const submit = (type: string, id: string, queue?: string) =>
    t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { authorization: `Bearer ${writer}` },
      payload: { type, input: { n: id }, client_request_id: id, ...(queue ? { queue } : {}) },
    });

  beforeAll(async () => {
    t = await startTestSluice({ QUEUES: "churn,sentiment", QUEUE_CONCURRENCY: "2" });
    t.sluice.task("ok", async (input: unknown) => input);
    // Fails while failNext is set, without retries, so retry-all has failed jobs to move.
    t.sluice.task("flaky", async () => {
      if (failNext) throw new SluiceError("VALIDATION_FAILED", "flaky says no");
      return "fine";
    });
    await t.sluice.startWorkers();
    await t.sluice.intake.ensureWorkspace("ops", "Ops", { rateLimitPerMinute: 10_000 });
    adminKey = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    writer = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["jobs:write"] })).secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("lists every queue with counts, paused and workers (runbook 000's jq filter works on it)", async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/queues", headers: auth() });
    expect(res.statusCode).toBe(200);
    const rows = res.json<Listing[]>();
    // Besides these, Sluice's own internal queues (runs, approvals, schedules, webhooks, maintenance), all named sluice-*.
    expect(rows.map((r) => r.name).filter((n) => !n.startsWith("sluice-"))).toEqual(["ai-batch-queue", "ai-jobs", "churn", "sentiment"]);
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(["sluice-runs", "sluice-webhooks"]));
    // Runbook 000: `jq '.[] | select(.name | contains("ai"))'` picks exactly the AI queues (internal ones avoid "ai" in their names).
    expect(rows.filter((r) => r.name.includes("ai")).map((r) => r.name)).toEqual(["ai-batch-queue", "ai-jobs"]);
    expect(rows.find((r) => r.name === "ai-jobs")).toMatchObject({ paused: false, workers: 1, waiting: 0 });
  });

  it("a paused queue accepts jobs and hands none out until resumed; both actions are audited with the reason", async () => {
    const paused = await t.app.inject({
      method: "POST",
      url: "/api/queues/churn/pause",
      headers: auth(),
      payload: { reason: "provider incident" },
    });
    expect(paused.json<Listing>().paused).toBe(true);
    expect((await submit("ok", "p-1", "churn")).statusCode).toBe(202);
    expect((await submit("ok", "p-2", "churn")).statusCode).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    // runbook 004 §2.7 prints stats.total
    expect(await stats("churn")).toMatchObject({ waiting: 2, completed: 0, paused: true, total: 2 });
    await t.app.inject({ method: "POST", url: "/api/queues/churn/resume", headers: auth() });
    await until(
      () => stats("churn"),
      (s) => s.completed === 2 && !s.paused,
    );
    const audit = (await t.app.inject({ method: "GET", url: "/api/audit?action=queue.pause", headers: auth() })).json<
      Array<{ target: string; reason: string; actor: string }>
    >();
    expect(audit[0]).toMatchObject({ target: "churn", reason: "provider incident" });
    expect(audit[0]?.actor).toMatch(/^key:/);
  });

  it("pause-all and resume-all (runbook 004 deploy steps, under its /api/queue path too)", async () => {
    const all = await t.app.inject({ method: "POST", url: "/api/queue/pause-all", headers: auth() });
    const listed = (await t.app.inject({ method: "GET", url: "/api/queues", headers: auth() })).json<Listing[]>().map((q) => q.name);
    expect(all.json<{ paused: string[] }>().paused.sort()).toEqual(listed.sort());
    const wrapped = await t.app.inject({ method: "GET", url: "/api/queue/stats", headers: auth() });
    expect(wrapped.json<{ queues: Listing[] }>().queues.every((q) => q.paused)).toBe(true);
    await t.app.inject({ method: "POST", url: "/api/queues/resume-all", headers: auth() });
    expect((await t.app.inject({ method: "GET", url: "/api/queues", headers: auth() })).json<Listing[]>().every((q) => !q.paused)).toBe(
      true,
    );
  });

  it("failed jobs: listed, retried all at once (runbook 003 path), one retried, one removed, then cleaned", async () => {
    for (const id of ["f-1", "f-2", "f-3"]) await submit("flaky", id, "sentiment");
    await until(
      () => stats("sentiment"),
      (s) => s.failed === 3,
    );
    const failed = await t.app.inject({ method: "GET", url: "/api/admin/queues/sentiment/failed", headers: auth() });
    expect(failed.json<Array<{ failed_reason: string }>>()[0]?.failed_reason).toContain("flaky says no");
    const page = (await t.app.inject({ method: "GET", url: "/api/queues/sentiment/jobs?state=failed&limit=2", headers: auth() })).json<{
      jobs: Array<{ id: string }>;
      total: number;
    }>();
    expect(page.jobs).toHaveLength(2);
    expect(page.total).toBe(3);

    const removed = await t.app.inject({ method: "DELETE", url: `/api/queues/sentiment/jobs/${page.jobs[0]?.id ?? ""}`, headers: auth() });
    expect(removed.statusCode).toBe(200);
    failNext = false;
    const retried = await t.app.inject({ method: "POST", url: "/api/admin/queues/sentiment/retry-all", headers: auth() });
    expect(retried.json()).toEqual({ retried: 2 });
    await until(
      () => stats("sentiment"),
      (s) => s.completed === 2 && s.failed === 0,
    );

    failNext = true;
    await submit("flaky", "f-4", "sentiment");
    await until(
      () => stats("sentiment"),
      (s) => s.failed === 1,
    );
    const one =
      (await t.app.inject({ method: "GET", url: "/api/queues/sentiment/jobs?state=failed", headers: auth() })).json<{
        jobs: Array<{ id: string }>;
      }>().jobs[0]?.id ?? "";
    failNext = false;
    expect((await t.app.inject({ method: "POST", url: `/api/queues/sentiment/jobs/${one}/retry`, headers: auth() })).statusCode).toBe(200);
    await until(
      () => stats("sentiment"),
      (s) => s.completed === 3,
    );

    // Completed jobs older than 0 s are all removed; the default (24 h grace) would keep them.
    const keep = await t.app.inject({
      method: "POST",
      url: "/api/queues/sentiment/clean",
      headers: auth(),
      payload: { status: "completed" },
    });
    expect(keep.json()).toMatchObject({ removed: 0, grace_ms: 86_400_000 });
    const clean = await t.app.inject({
      method: "POST",
      url: "/api/queues/sentiment/clean",
      headers: auth(),
      payload: { grace: 0, status: "completed" },
    });
    expect(clean.json()).toMatchObject({ removed: 3, state: "completed" });
    expect((await stats("sentiment")).completed).toBe(0);
  });

  it("answers bad admin input with stable codes", async () => {
    const unknownQueue = await t.app.inject({ method: "POST", url: "/api/queues/nope/pause", headers: auth() });
    expect(unknownQueue.statusCode).toBe(404);
    expect(unknownQueue.json().error.code).toBe("QUEUE_NOT_FOUND");
    const unknownJob = await t.app.inject({ method: "POST", url: "/api/queues/ai-jobs/jobs/missing-id/retry", headers: auth() });
    expect(unknownJob.statusCode).toBe(404);
    expect(unknownJob.json().error.code).toBe("JOB_NOT_FOUND");
    const stalled = await t.app.inject({
      method: "POST",
      url: "/api/admin/queues/churn/clean",
      headers: auth(),
      payload: { grace: 3600, status: "stalled" },
    });
    expect(stalled.statusCode).toBe(400);
    expect(stalled.json().error.message).toContain("requeued automatically");
    const badState = await t.app.inject({ method: "GET", url: "/api/queues/churn/jobs?state=zombie", headers: auth() });
    expect(badState.statusCode).toBe(400);
    const badGrace = await t.app.inject({ method: "POST", url: "/api/queues/churn/clean", headers: auth(), payload: { grace: "soon" } });
    expect(badGrace.statusCode).toBe(400);
    const notAdmin = await t.app.inject({ method: "GET", url: "/api/queues", headers: { authorization: `Bearer ${writer}` } });
    expect(notAdmin.statusCode).toBe(403);
  });

  it("serves Bull Board at /admin/queues behind the admin key (Basic auth for browsers)", async () => {
    const anonymous = await t.app.inject({ method: "GET", url: "/admin/queues" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toContain("Basic");
    const basic = `Basic ${Buffer.from(`admin:${adminKey}`).toString("base64")}`;
    const page = await t.app.inject({ method: "GET", url: "/admin/queues", headers: { authorization: basic } });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    const api = await t.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: { authorization: basic } });
    expect(api.statusCode).toBe(200);
    expect(api.json<{ queues: Array<{ name: string }> }>().queues.map((q) => q.name)).toContain("ai-jobs");
    const forbidden = await t.app.inject({ method: "GET", url: "/admin/queues", headers: { authorization: `Bearer ${writer}` } });
    expect(forbidden.statusCode).toBe(403);
  });

  it("exports the runbook metric names on /metrics", async () => {
    const text = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    for (const name of [
      "ai_queue_depth_total",
      "ai_queue_enqueue_total",
      "ai_queue_dequeue_total",
      "ai_queue_workers",
      "bullmq_queue_waiting",
      "bullmq_jobs_completed_total",
      "bullmq_workers_active",
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}\\{[^}]*queue="ai-jobs"`, "m"));
    }
    expect(text).toMatch(/^http_requests_total\{method="POST",route="\/ai\/jobs",path="\/ai\/jobs",status="202",status_class="2xx"\} \d+/m);
  });
});
