import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

describe("a tenant reads a code and a request id, never the internals of a failure", () => {
  let redis: RunningServer;
  let t: TestSluice;
  let key: string;
  const lines: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(...chunk.toString().split("\n").filter(Boolean)), done()) });
    // Queues on PGlite, idempotency records on the Redis we are about to stop.
    t = await startTestSluice({ REDIS_URL: redis.url, QUEUE_BACKEND: "pglite" }, { logger: createLogger({ level: "error", destination: sink }) });
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
