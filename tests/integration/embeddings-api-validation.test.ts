import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { auth, catalogue, statusCounts } from "./backfill-support.ts";

/**
 * Bad input on the embeddings API gets a stable code and status (never a 500) and changes nothing:
 * missing key or scope, another workspace, oversized bodies, wrong types, vectors of the wrong size.
 */

type ErrorBody = { error: { code: string; message: string; details?: unknown } };

let t: TestSluice;
let writer: string;
let reader: string;
let writeOnly: string;
let admin: string;

const put = (key: string | undefined, payload: unknown, ws = "ws-v") =>
  t.app.inject({ method: "PUT", url: `/api/workspaces/${ws}/items`, headers: key ? auth(key) : {}, payload: payload as object });
const search = (key: string, payload: unknown, ws = "ws-v") =>
  t.app.inject({ method: "POST", url: `/api/workspaces/${ws}/search`, headers: auth(key), payload: payload as object });
const code = (res: { json: <T>() => T }) => res.json<ErrorBody>().error.code;

beforeAll(async () => {
  t = await startTestSluice({ EMBEDDING_INGEST_BODY_LIMIT_BYTES: "8192" });
  for (const ws of ["ws-v", "ws-w", "ops"]) await t.sluice.intake.ensureWorkspace(ws, ws);
  writer = (await t.sluice.intake.createApiKey({ workspaceId: "ws-v", scopes: ["jobs:write", "jobs:read"] })).secret;
  reader = (await t.sluice.intake.createApiKey({ workspaceId: "ws-v", scopes: ["jobs:read"] })).secret;
  writeOnly = (await t.sluice.intake.createApiKey({ workspaceId: "ws-v", scopes: ["jobs:write"] })).secret;
  admin = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
});
afterAll(async () => {
  await t?.close();
});

describe("embeddings API: keys, scopes and workspaces", () => {
  it("401 without a key, 403 without the scope", async () => {
    expect(code(await put(undefined, { items: [] }))).toBe("UNAUTHENTICATED");
    const readOnly = await put(reader, { items: catalogue(1) });
    expect(readOnly.statusCode).toBe(403);
    expect(code(readOnly)).toBe("FORBIDDEN_SCOPE");
    expect((await search(writeOnly, { query: "shoe" })).statusCode).toBe(403);
    for (const [method, url] of [
      ["GET", "/api/embeddings/backlog"],
      ["GET", "/api/embeddings/batches"],
      ["POST", "/api/embeddings/reindex"],
      ["POST", "/api/embeddings/maintenance/vacuum"],
      ["POST", "/api/embeddings/maintenance/reindex"],
    ] as const) {
      const res = await t.app.inject({
        method,
        url,
        headers: auth(writer),
        ...(method === "POST" ? { payload: { workspace: "ws-v" } } : {}),
      });
      expect(res.statusCode, url).toBe(403);
    }
  });

  it("another workspace's id is the same 404 as a missing one, for reads and writes", async () => {
    const other = await put(writer, { items: catalogue(1) }, "ws-w");
    const missing = await put(writer, { items: catalogue(1) }, "ws-missing");
    expect([other.statusCode, missing.statusCode]).toEqual([404, 404]);
    expect(other.json<ErrorBody>().error.message.replace("ws-w", "X")).toBe(
      missing.json<ErrorBody>().error.message.replace("ws-missing", "X"),
    );
    expect((await search(writer, { query: "shoe" }, "ws-w")).statusCode).toBe(404);
    expect((await t.app.inject({ method: "GET", url: "/api/workspaces/ws-w/items/p-0", headers: auth(writer) })).statusCode).toBe(404);
    expect((await t.app.inject({ method: "DELETE", url: "/api/workspaces/ws-w/items/p-0", headers: auth(writer) })).statusCode).toBe(404);
    // An admin may act on any existing workspace; an unknown one is still 404.
    expect((await put(admin, { items: catalogue(2, "adm") }, "ws-w")).statusCode).toBe(200);
    expect(code(await put(admin, { items: catalogue(1) }, "ws-missing"))).toBe("NOT_FOUND");
    expect(code(await put(admin, { items: catalogue(1) }, "bad:id"))).toBe("NOT_FOUND");
  });
});

describe("embeddings API: bad bodies", () => {
  it("413 for a body over EMBEDDING_INGEST_BODY_LIMIT_BYTES", async () => {
    const res = await put(writer, { items: catalogue(200) });
    expect(res.statusCode).toBe(413);
    expect(code(res)).toBe("BODY_TOO_LARGE");
  });

  it("400 VALIDATION_FAILED for wrong types and shapes", async () => {
    const bodies: unknown[] = [
      {},
      { items: "not an array" },
      { items: [{ id: "a" }] },
      { items: [{ id: "a", text: 123 }] },
      { items: [{ id: "", text: "x" }] },
      { items: [{ id: "a", text: "x", metadata: [1, 2] }] },
      {
        items: [
          { id: "a", text: "x" },
          { id: "a", text: "y" },
        ],
      },
      { items: [{ id: "a", text: "   " }] },
      { delete: [1, 2] },
    ];
    for (const body of bodies) {
      const res = await put(writer, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(code(res), JSON.stringify(body)).toBe("VALIDATION_FAILED");
    }
    const malformed = await t.app.inject({
      method: "PUT",
      url: "/api/workspaces/ws-v/items",
      headers: { ...auth(writer), "content-type": "application/json" },
      payload: "{items: [",
    });
    expect(code(malformed)).toBe("BODY_MALFORMED");
    expect((await statusCounts(t.sluice, "ws-v")).total).toBe(0);
  });

  it("400 for bad searches; VECTOR_DIMENSION_MISMATCH for a vector of the wrong size", async () => {
    expect((await put(writer, { items: catalogue(5) })).statusCode).toBe(200);
    const bodies: unknown[] = [
      {},
      { query: "" },
      { query: "a", vector: [1] },
      { query: "a", k: "ten" },
      { query: "a", k: 0 },
      { query: "a", ef_search: 0 },
      { vector: ["a"] },
      { query: "a", filter: "x" },
    ];
    for (const body of bodies) {
      const res = await search(writer, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(code(res), JSON.stringify(body)).toBe("VALIDATION_FAILED");
    }
    const wrong = await search(writer, { vector: Array.from({ length: 10 }, () => 0.1) });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json<ErrorBody>().error).toMatchObject({ code: "VECTOR_DIMENSION_MISMATCH", details: { dimensions: 10, expected: 384 } });
    const right = await search(writer, { vector: Array.from({ length: 384 }, (_, i) => (i % 7) / 7 + 0.01), k: 3 });
    expect(right.statusCode).toBe(200);
    expect(right.json<{ hits: unknown[] }>().hits).toEqual([]); // nothing embedded yet: no workers in this file
  });
});

describe("embeddings API with VECTOR_SEARCH_ENABLED=false", () => {
  it("answers 503 EMBEDDINGS_UNAVAILABLE instead of touching tables", async () => {
    const off = await startTestSluice({ VECTOR_SEARCH_ENABLED: "false" });
    try {
      await off.sluice.intake.ensureWorkspace("ws-off", "Off");
      const key = (await off.sluice.intake.createApiKey({ workspaceId: "ws-off", scopes: ["jobs:write", "jobs:read"] })).secret;
      const res = await off.app.inject({
        method: "PUT",
        url: "/api/workspaces/ws-off/items",
        headers: auth(key),
        payload: { items: catalogue(1) },
      });
      expect(res.statusCode).toBe(503);
      expect(code(res)).toBe("EMBEDDINGS_UNAVAILABLE");
      expect((await off.sluice.startWorkers()).map((w) => w.queue)).not.toContain("ai-batch-queue");
    } finally {
      await off.close();
    }
  });
});
