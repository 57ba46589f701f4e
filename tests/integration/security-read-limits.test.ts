import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

const engines = embeddedAndServers("budgets", 15);

describe.each(engines)("reads, searches and ingests have their own per-workspace budgets on $name", (engine) => {
  let t: TestSluice;
  let key: string;
  let other: string;
  const auth = (secret: string) => ({ authorization: `Bearer ${secret}` });

  beforeAll(async () => {
    t = await startTestSluice({
      ...(await engine.env()),
      RATE_LIMIT_READS_PER_MINUTE: "5",
      RATE_LIMIT_INGEST_PER_MINUTE: "2",
      RATE_LIMIT_PER_MINUTE: "1000",
    });
    for (const ws of ["ws-r", "ws-q"]) await t.sluice.intake.ensureWorkspace(ws, ws);
    key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-r", scopes: ["jobs:read", "jobs:write"] })).secret;
    other = (await t.sluice.intake.createApiKey({ workspaceId: "ws-q", scopes: ["jobs:read"] })).secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("answers 429 with Retry-After past the read budget, without touching intake or other workspaces", async () => {
    for (let i = 0; i < 5; i += 1)
      expect((await t.app.inject({ method: "GET", url: "/ai/jobs", headers: auth(key) })).statusCode).toBe(200);
    const limited = await t.app.inject({ method: "GET", url: "/ai/jobs/some-id", headers: auth(key) });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    const submitted = await t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { ...auth(key), "content-type": "application/json" },
      payload: JSON.stringify({ type: "classify", input: { text: "fine" }, client_request_id: "after-reads" }),
    });
    expect(submitted.statusCode).toBe(202);
    expect((await t.app.inject({ method: "GET", url: "/ai/jobs", headers: auth(other) })).statusCode).toBe(200);
  });

  it("counts bulk ingest on its own budget", async (ctx) => {
    if (!t.sluice.config.embeddings.vectorSearchEnabled) return ctx.skip();
    const put = () =>
      t.app.inject({
        method: "PUT",
        url: "/api/workspaces/ws-r/items",
        headers: { ...auth(key), "content-type": "application/json" },
        payload: JSON.stringify({ items: [{ id: "a", text: "x" }] }),
      });
    expect((await put()).statusCode).toBe(200);
    expect((await put()).statusCode).toBe(200);
    expect((await put()).statusCode).toBe(429);
  });
});
