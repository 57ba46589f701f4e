import { connect } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";
import { SluiceError } from "../../src/core/errors.ts";

describe("a tenant reads a code and a request id, never the internals of a failure", () => {
  let redis: RunningServer;
  let t: TestSluice;
  let key: string;
  const lines: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => (lines.push(...chunk.toString().split("\n").filter(Boolean)), done()),
    });
    // Queues on PGlite, idempotency records on the Redis we are about to stop.
    t = await startTestSluice(
      { REDIS_URL: redis.url, QUEUE_BACKEND: "pglite" },
      { logger: createLogger({ level: "error", destination: sink }) },
    );
    await t.sluice.intake.ensureWorkspace("ws-e", "E", { rateLimitPerMinute: 1000 });
    key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-e", scopes: ["jobs:write"] })).secret;
  });
  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await redis?.stop();
  });

  it("answers a dependency outage with the catalogue's message and a request id that the log carries", async () => {
    await redis.stop();
    const res = await t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      payload: JSON.stringify({ type: "llm.complete", input: { prompt: "hi" }, client_request_id: "outage-1" }),
    });
    expect(res.statusCode).toBe(503);
    const body = res.json<{ error: { code: string; message: string; request_id: string; details?: unknown } }>();
    expect(body.error.code).toBe("DEPENDENCY_UNAVAILABLE");
    expect(body.error.message).toBe("A dependency is unavailable");
    expect(body.error.details).toBeUndefined();
    expect(res.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|maxRetriesPerRequest|\/work\//);
    expect(body.error.request_id).toBeTruthy();
    expect(lines.some((l) => l.includes(body.error.request_id) && l.includes("request failed"))).toBe(true);
  });
});

describe("errors Node raises before Fastify sees the request", () => {
  it("answers oversized headers with 431 in the error contract and Connection: close", async () => {
    const t = await startTestSluice();
    try {
      const address = await t.app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = new URL(address);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () =>
          socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`),
        );
        let data = "";
        socket.on("data", (chunk) => (data += chunk.toString()));
        socket.on("close", () => resolve(data));
        socket.on("error", reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 431 /);
      expect(raw.toLowerCase()).toContain("connection: close");
      expect(JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4))).toMatchObject({ error: { code: "HEADERS_TOO_LARGE" } });
    } finally {
      await t.close();
    }
  });

  it("answers a malformed %-escape in the path and an over-long parameter in the contract", async () => {
    const t = await startTestSluice();
    try {
      const bad = await t.app.inject({ method: "GET", url: "/ai/jobs/%E0%A4%A" });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: { code: "URL_MALFORMED" } });
      const long = await t.app.inject({ method: "GET", url: `/ai/jobs/${"x".repeat(200)}` });
      expect(long.statusCode).toBe(414);
      expect(long.json()).toMatchObject({ error: { code: "URI_TOO_LONG" } });
    } finally {
      await t.close();
    }
  });
});

describe("a failed job's error as its tenant reads it", () => {
  it("is CODE: message, with internals only in the operator's queue API", async () => {
    const t = await startTestSluice({ QUEUE_CONCURRENCY: "2" });
    try {
      t.sluice.task("leaky", async () => {
        throw new Error("connect ECONNREFUSED 10.0.0.5:5432\n    at /srv/app/node_modules/pg/lib/client.js:1:1");
      });
      t.sluice.task("provider", async () => {
        throw new SluiceError("PROVIDER_AUTH", "openai at 10.0.0.6:443 refused key sk-live-abc: max retries reached");
      });
      t.sluice.task("refused", async () => {
        throw new SluiceError("VALIDATION_FAILED", "label 'x' is not one of a, b");
      });
      await t.sluice.startWorkers();
      await t.sluice.intake.ensureWorkspace("ws-j", "J", { rateLimitPerMinute: 1000 });
      const key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-j", scopes: ["jobs:read", "jobs:write"] })).secret;
      const admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-j", scopes: ["operator"] })).secret;
      const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
      const errors: Record<string, string> = {};
      for (const type of ["leaky", "provider", "refused"]) {
        const { id } = (
          await t.app.inject({
            method: "POST",
            url: "/ai/jobs",
            headers,
            payload: JSON.stringify({ type, input: {}, client_request_id: type }),
          })
        ).json<{ id: string }>();
        const job = await until(
          async () =>
            (await t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers })).json<{ status: string; error: string | null }>(),
          (j) => j.status === "failed",
          30_000,
        );
        errors[type] = job.error ?? "";
        if (type === "leaky") {
          const full = await t.app.inject({
            method: "GET",
            url: `/api/queues/ai-jobs/jobs/${id}`,
            headers: { authorization: `Bearer ${admin}` },
          });
          expect(full.body).toContain("ECONNREFUSED 10.0.0.5");
        }
      }
      expect(errors.leaky).toMatch(/^TASK_FAILED: /);
      expect(errors.provider).toBe("PROVIDER_AUTH: The AI provider refused Sluice's credentials");
      expect(errors.refused).toBe("VALIDATION_FAILED: label 'x' is not one of a, b");
      expect(Object.values(errors).join("\n")).not.toMatch(/10\.0\.0\.|\/srv\/|max retries|sk-live/);
    } finally {
      await t.close();
    }
  }, 120_000);
});
