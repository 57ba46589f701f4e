import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

interface Engine {
  name: string;
  env: () => Promise<Record<string, string>>;
}

const engines: Engine[] = [
  { name: "embedded PGlite", env: async () => ({}) },
  {
    name: "Redis queues + PostgreSQL store",
    env: async () => ({ REDIS_URL: redisUrl(3), DATABASE_URL: await freshPostgresDatabase("jobs"), VECTOR_SEARCH_ENABLED: "false" }),
  },
];

describe.each(engines)("jobs API on $name", (engine) => {
  let t: TestSluice;
  let writer: string;
  let otherWorkspace: string;
  let readOnly: string;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const post = (key: string, payload: unknown) =>
    t.app.inject({ method: "POST", url: "/ai/jobs", headers: auth(key), payload: payload as object });

  beforeAll(async () => {
    t = await startTestSluice({ ...(await engine.env()), QUEUE_CONCURRENCY: "4" });
    t.sluice.task("echo", async (input: { text: string }) => ({ echoed: input.text }));
    await t.sluice.startWorkers();
    await t.sluice.intake.ensureWorkspace("ws-123", "Acme", { rateLimitPerMinute: 10_000 });
    await t.sluice.intake.ensureWorkspace("ws-other", "Other");
    await t.sluice.intake.ensureWorkspace("ws-slow", "Slow", { rateLimitPerMinute: 3 });
    writer = (await t.sluice.intake.createApiKey({ workspaceId: "ws-123", scopes: ["jobs:write", "jobs:read"] })).secret;
    otherWorkspace = (await t.sluice.intake.createApiKey({ workspaceId: "ws-other", scopes: ["jobs:write", "jobs:read"] })).secret;
    readOnly = (await t.sluice.intake.createApiKey({ workspaceId: "ws-123", scopes: ["jobs:read"] })).secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("accepts a job (202), runs it, and shows the result to its workspace", async () => {
    const res = await post(writer, { type: "echo", input: { text: "hi" }, client_request_id: "req-1" });
    expect(res.statusCode).toBe(202);
    const { id, queue, duplicate } = res.json<{ id: string; queue: string; duplicate: boolean }>();
    expect(queue).toBe("ai-jobs");
    expect(duplicate).toBe(false);
    const job = await until(
      async () =>
        (await t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: auth(writer) })).json<{ status: string; result: unknown }>(),
      (j) => j.status === "completed",
    );
    expect(job.result).toEqual({ echoed: "hi" });
    const listed = await t.app.inject({ method: "GET", url: "/ai/jobs?status=completed", headers: auth(writer) });
    expect(listed.json<{ jobs: Array<{ id: string }> }>().jobs.map((j) => j.id)).toContain(id);
  });

  it("returns the same job for the same client_request_id, even for 100 identical requests at once", async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, () => post(writer, { type: "echo", input: { text: "once" }, client_request_id: "req-burst" })),
    );
    const ids = new Set(results.map((r) => r.json<{ id: string }>().id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.statusCode === 202)).toHaveLength(1);
    expect(results.filter((r) => r.statusCode === 200 && r.json<{ duplicate: boolean }>().duplicate)).toHaveLength(99);
    const [id] = [...ids];
    await until(
      async () => (await t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: auth(writer) })).json<{ status: string }>(),
      (j) => j.status === "completed",
    );
    const completed = await t.sluice.queues.jobs("ai-jobs", "completed", { limit: 1000 });
    expect(completed.jobs.filter((j) => (j.data as { client_request_id: string }).client_request_id === "req-burst")).toHaveLength(1);
  });

  it("keeps workspaces apart: the same request id elsewhere is a new job, and another workspace's job is a 404", async () => {
    const mine = (await post(writer, { type: "echo", input: { text: "a" }, client_request_id: "shared-id" })).json<{ id: string }>();
    const theirs = await post(otherWorkspace, { type: "echo", input: { text: "b" }, client_request_id: "shared-id" });
    expect(theirs.statusCode).toBe(202);
    expect(theirs.json<{ id: string }>().id).not.toBe(mine.id);
    const peek = await t.app.inject({ method: "GET", url: `/ai/jobs/${mine.id}`, headers: auth(otherWorkspace) });
    expect(peek.statusCode).toBe(404);
    expect(peek.json().error.code).toBe("JOB_NOT_FOUND");
    const list = await t.app.inject({ method: "GET", url: "/ai/jobs?status=completed&limit=500", headers: auth(otherWorkspace) });
    expect(list.json<{ jobs: Array<{ id: string }> }>().jobs.map((j) => j.id)).not.toContain(mine.id);
  });

  it("401 without a key, 403 without jobs:write", async () => {
    const none = await t.app.inject({ method: "POST", url: "/ai/jobs", payload: { type: "echo", input: {}, client_request_id: "x" } });
    expect(none.statusCode).toBe(401);
    const ro = await post(readOnly, { type: "echo", input: {}, client_request_id: "x" });
    expect(ro.statusCode).toBe(403);
    expect(ro.json().error.code).toBe("FORBIDDEN_SCOPE");
  });

  it("rejects bad input with stable codes and queues nothing", async () => {
    const before = (await t.sluice.queues.counts("ai-jobs")).total;
    const cases: Array<[unknown, number, string]> = [
      [{ type: 42, input: {}, client_request_id: "b1" }, 400, "VALIDATION_FAILED"],
      [{ type: "echo", input: {} }, 400, "VALIDATION_FAILED"],
      [{ type: "nope", input: {}, client_request_id: "b2" }, 400, "JOB_TYPE_UNKNOWN"],
      [{ type: "echo", input: {}, client_request_id: "b3", queue: "no-such-queue" }, 404, "QUEUE_NOT_FOUND"],
      [{ type: "echo", input: {}, client_request_id: "b4", priority: -1 }, 400, "VALIDATION_FAILED"],
    ];
    for (const [payload, status, code] of cases) {
      const res = await post(writer, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(status);
      expect(res.json().error.code).toBe(code);
    }
    const big = await t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { ...auth(writer), "content-type": "application/json" },
      payload: JSON.stringify({ type: "echo", input: "x".repeat(1_100_000), client_request_id: "big" }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe("BODY_TOO_LARGE");
    const malformed = await t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { ...auth(writer), "content-type": "application/json" },
      payload: '{"type":',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe("BODY_MALFORMED");
    const unknownId = await t.app.inject({ method: "GET", url: "/ai/jobs/00000000-0000-0000-0000-000000000000", headers: auth(writer) });
    expect(unknownId.statusCode).toBe(404);
    expect((await t.sluice.queues.counts("ai-jobs")).total).toBe(before);
  });

  it("limits each workspace's request rate with 429 and Retry-After", async () => {
    const slow = (await t.sluice.intake.createApiKey({ workspaceId: "ws-slow", scopes: ["jobs:write"] })).secret;
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 5; i += 1) {
      const res = await post(slow, { type: "echo", input: { text: String(i) }, client_request_id: `slow-${i}` });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) retryAfter = res.headers["retry-after"];
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
});

describe("the idempotency record on Redis, as runbook 001 inspects it", () => {
  it("is ai:idempotency:{workspace}:{client_request_id} with a 24 h TTL", async () => {
    const url = redisUrl(4);
    const t = await startTestSluice({ REDIS_URL: url, DATABASE_URL: await freshPostgresDatabase("idem"), VECTOR_SEARCH_ENABLED: "false" });
    try {
      t.sluice.task("echo", async (input: unknown) => input);
      await t.sluice.intake.ensureWorkspace("ws-123", "Acme");
      const key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-123", scopes: ["jobs:write"] })).secret;
      const res = await t.app.inject({
        method: "POST",
        url: "/ai/jobs",
        headers: { authorization: `Bearer ${key}` },
        payload: { type: "echo", input: {}, client_request_id: "req-456" },
      });
      const redis = new Redis(url);
      try {
        const ttl = await redis.ttl("ai:idempotency:ws-123:req-456");
        expect(ttl).toBeGreaterThan(86_300);
        expect(ttl).toBeLessThanOrEqual(86_400);
        expect(await redis.get("ai:idempotency:ws-123:req-456")).toContain(res.json<{ id: string }>().id);
      } finally {
        redis.disconnect();
      }
    } finally {
      await t.close();
    }
  });
});
