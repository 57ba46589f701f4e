import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/** Keys whose values are the caller's own JSON, kept as sent. */
const USER_DATA = new Set(["metadata", "input", "output", "result", "payload", "details", "notify_args", "args"]);

/** Answers not converted yet (issue 11, "snake_case everywhere"): none; a camelCase key anywhere fails this test. */
const NOT_YET: Record<string, string[]> = {};

function camelKeys(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) camelKeys(v, into);
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (/[a-z][A-Z]/.test(k)) into.add(k);
      if (!USER_DATA.has(k)) camelKeys(v, into);
    }
  }
  return into;
}

/** Every GET of the OpenAPI document without path parameters, plus one item and each dependency: snake_case keys only. */
describe("the HTTP API answers in snake_case", () => {
  let t: TestSluice;
  let key: string;

  beforeAll(async () => {
    t = await startTestSluice();
    await t.sluice.startWorkers();
    await t.sluice.intake.ensureWorkspace("ws", "WS");
    key = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["admin", "operator"] })).secret;
    const put = await t.app.inject({
      method: "PUT",
      url: "/api/workspaces/ws/items",
      headers: { authorization: `Bearer ${key}` },
      payload: { items: [{ id: "p1", text: "red shoes", metadata: { camelCaseKept: true } }] },
    });
    expect(put.statusCode, put.body).toBe(200);
    await until(
      async () =>
        (await t.app.inject({ method: "GET", url: "/api/workspaces/ws/items/p1", headers: { authorization: `Bearer ${key}` } })).json<{
          status: string;
        }>().status,
      (s) => s === "completed",
      30_000,
      "item embedded",
    );
  });
  afterAll(async () => {
    await t.close();
  });

  it("has no camelCase key outside user data", async () => {
    const doc = (await t.app.inject({ method: "GET", url: "/docs/json", headers: { authorization: `Bearer ${key}` } })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const paths = Object.entries(doc.paths)
      .filter(([p, ops]) => "get" in ops && !p.includes("{"))
      .map(([p]) => p);
    expect(paths).toEqual(
      expect.arrayContaining(["/api/queues", "/api/embeddings/backlog", "/api/embeddings/batches", "/api/cache/stats", "/api/usage"]),
    );
    const found: Record<string, string[]> = {};
    for (const path of [...paths, "/api/workspaces/ws/items/p1", "/health/db", "/health/llm", "/health/queue"]) {
      const res = await t.app.inject({ method: "GET", url: path, headers: { authorization: `Bearer ${key}` } });
      if (!res.headers["content-type"]?.toString().includes("json")) continue;
      const keys = [...camelKeys(res.json())].sort();
      if (keys.length > 0) found[path] = keys;
    }
    expect(found).toEqual(NOT_YET);
  });

  it("keeps the caller's own metadata keys as sent", async () => {
    const item = (
      await t.app.inject({ method: "GET", url: "/api/workspaces/ws/items/p1", headers: { authorization: `Bearer ${key}` } })
    ).json<Record<string, unknown>>();
    expect(item).toMatchObject({
      external_id: "p1",
      workspace_id: "ws",
      retry_count: 0,
      error_message: null,
      metadata: { camelCaseKept: true },
    });
  });
});
