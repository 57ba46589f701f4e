import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CATALOGUE } from "../../src/core/errors.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * Property: whatever a client sends to any route of the OpenAPI document, Sluice answers below 500,
 * and every error is `{error: {code, message}}` with a code from the catalogue. A fixed seed and a
 * bounded count keep it repeatable; a failure prints the shrunk request that broke it.
 */

interface OpenApiOperation {
  parameters?: Array<{ name: string; in: "path" | "query" | "header" }>;
  requestBody?: { content?: { "application/json"?: { schema?: { properties?: Record<string, unknown> } } } };
}

interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  pathParams: string[];
  queryParams: string[];
  bodyKeys: string[];
}

// A whole-database download and an index rebuild are slow per call and add nothing a smaller route does not.
const SKIPPED = new Set(["GET /api/admin/backup", "POST /api/embeddings/maintenance/reindex", "POST /api/embeddings/maintenance/vacuum"]);
const CODES = new Set(Object.keys(ERROR_CATALOGUE));

const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom(
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udc00",
    "%",
    "%25",
    "💥",
    "'; DROP TABLE api_keys;--",
    "../../etc/passwd",
    "-1",
    "0",
    "2147483648",
    "99999999999999999999",
    "1e308",
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    "ai-jobs",
    "ai-batch-queue",
    "ws-a",
    "x".repeat(3000),
  ),
);

const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: "small" },
  hostileText,
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, 2 ** 31, 2 ** 53 + 1, 1e308, -0.5),
  fc.array(hostileText, { maxLength: 4 }),
  fc.dictionary(hostileText, hostileText, { maxKeys: 4 }),
);

/** Percent-encodes a string as a client library would, and a lone surrogate as the raw bytes a hostile client sends. */
function encodeSegment(text: string): string {
  return Array.from(text)
    .map((ch) => {
      try {
        return encodeURIComponent(ch);
      } catch {
        return "%ED%A0%80";
      }
    })
    .join("");
}

function routesOf(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): Route[] {
  const routes: Route[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const upper = method.toUpperCase() as Route["method"];
      if (!["GET", "POST", "PUT", "PATCH", "DELETE"].includes(upper) || SKIPPED.has(`${upper} ${path}`)) continue;
      const params = op.parameters ?? [];
      routes.push({
        method: upper,
        path,
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        queryParams: params.filter((p) => p.in === "query").map((p) => p.name),
        bodyKeys: Object.keys(op.requestBody?.content?.["application/json"]?.schema?.properties ?? {}),
      });
    }
  }
  return routes;
}

function requestFor(route: Route): fc.Arbitrary<{ url: string; body: unknown; contentType: string | undefined }> {
  const pathValues = fc.tuple(...route.pathParams.map(() => hostileText));
  const query = fc.dictionary(fc.constantFrom(...route.queryParams, "x"), hostileText, { maxKeys: route.queryParams.length + 1 });
  const shapedBody = fc.record(Object.fromEntries(route.bodyKeys.map((k) => [k, hostileJson])), { requiredKeys: [] });
  const body = route.bodyKeys.length > 0 ? fc.oneof(shapedBody, hostileJson) : fc.oneof(fc.constant(undefined), hostileJson);
  return fc.record({ pathValues, query, body, form: fc.boolean() }).map(({ pathValues: values, query: q, body: b, form }) => {
    let url = route.path;
    route.pathParams.forEach((name, i) => (url = url.replace(`{${name}}`, encodeSegment(values[i] ?? "") || "x")));
    const qs = Object.entries(q)
      .map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`)
      .join("&");
    const sendsBody = route.method !== "GET" && b !== undefined;
    return {
      url: qs ? `${url}?${qs}` : url,
      body: sendsBody ? b : undefined,
      contentType: sendsBody ? (form ? "application/x-www-form-urlencoded" : "application/json") : undefined,
    };
  });
}

function expectErrorShape(status: number, body: string, context: string, allowed503: readonly string[] = []): void {
  if (status < 400) return;
  const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
  if (!(status === 503 && allowed503.includes(String(parsed.error?.code)))) expect(status, context).toBeLessThan(500);
  expect(typeof parsed.error?.message, context).toBe("string");
  expect(CODES.has(String(parsed.error?.code)), context).toBe(true);
}

// Debian's PostgreSQL has no pgvector: there the embeddings routes answer 503 EMBEDDINGS_UNAVAILABLE by design.
const engines = [
  { name: "embedded PGlite", allowed503: [], env: async (): Promise<Record<string, string>> => ({}) },
  {
    name: "PostgreSQL + Redis",
    allowed503: ["EMBEDDINGS_UNAVAILABLE"],
    env: async (): Promise<Record<string, string>> => ({
      REDIS_URL: redisUrl(13),
      DATABASE_URL: await freshPostgresDatabase("fuzz"),
      VECTOR_SEARCH_ENABLED: "false",
    }),
  },
];

describe.each(engines)("HTTP fuzz on $name", (engine) => {
  let t: TestSluice;
  let adminKey: string;
  let routes: Route[];

  beforeAll(async () => {
    t = await startTestSluice(await engine.env());
    await t.sluice.intake.ensureWorkspace("ws-a", "A", { rateLimitPerMinute: 1_000_000 });
    adminKey = (await t.sluice.intake.createApiKey({ workspaceId: "ws-a", scopes: ["operator"] })).secret;
    routes = routesOf((await t.app.inject({ method: "GET", url: "/docs/json" })).json());
  });
  afterAll(async () => {
    await t?.close();
  });

  it("finds the API's routes in the OpenAPI document", () => {
    expect(routes.length).toBeGreaterThan(30);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toContain("POST /ai/jobs");
  });

  it("answers every hostile request to every route below 500, in the error contract", async () => {
    const anyRequest = fc.constantFrom(...routes).chain((route) => requestFor(route).map((req) => ({ route, ...req })));
    await fc.assert(
      fc.asyncProperty(anyRequest, async ({ route, url, body, contentType }) => {
        const res = await t.app.inject({
          method: route.method,
          url,
          headers: { authorization: `Bearer ${adminKey}`, ...(contentType ? { "content-type": contentType } : {}) },
          ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
        });
        const context = `${route.method} ${url} ${JSON.stringify(body)?.slice(0, 300)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
        expectErrorShape(res.statusCode, res.body, context, engine.allowed503);
      }),
      { seed: 20261201, numRuns: 400, endOnFailure: true },
    );
  });

  it("authenticates before it parses or validates: no key is 401 on every protected route, whatever the body", async () => {
    for (const route of routes.filter((r) => r.path.startsWith("/api/") || r.path.startsWith("/ai/"))) {
      const url = route.path.replace(/\{[^}]+\}/g, "x");
      const res = await t.app.inject({
        method: route.method,
        url,
        headers: { "content-type": "application/json" },
        ...(route.method !== "GET" ? { payload: "{not json" } : {}),
      });
      expect(res.statusCode, `${route.method} ${url}`).toBe(401);
      expect(res.json<{ error: { code: string } }>().error.code).toBe("UNAUTHENTICATED");
    }
  });

  it.each([
    ["GET", "/ai/jobs/%00"],
    ["GET", "/api/workspaces/ws-a/items/%00"],
    ["DELETE", "/api/workspaces/ws-a/items/%00"],
    ["GET", "/api/keys?workspace=%00"],
    ["GET", "/api/audit?workspace=%00"],
    ["GET", "/api/usage?workspace=%00"],
    ["GET", "/api/queues/ai-jobs/jobs?offset=2147483648"],
    ["GET", "/ai/jobs/%ED%A0%80"],
    ["GET", "/api/queues/%zz"],
  ])("answers the audit's %s %s with a 4xx in the contract", async (method, url) => {
    const res = await t.app.inject({ method: method as "GET", url, headers: { authorization: `Bearer ${adminKey}` } });
    expectErrorShape(res.statusCode, res.body, `${method} ${url} -> ${res.statusCode} ${res.body}`, engine.allowed503);
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
  });

  it.each([
    ["/ai/jobs", { type: "llm.complete", input: { prompt: "a\u0000b" }, client_request_id: "nul-1" }],
    ["/ai/jobs", { type: "llm.complete", input: { prompt: "x" }, client_request_id: "\ud800" }],
    ["/api/queues/ai-jobs/pause", { reason: "x\u0000" }],
    ["/api/workspaces", { id: "ws-nul", name: "a\u0000b" }],
  ])("refuses unstorable text in %s with 400 TEXT_INVALID, and does nothing", async (url, payload) => {
    // The fuzzing above may have paused queues; start from a known state.
    await t.app.inject({ method: "POST", url: "/api/queues/resume-all", headers: { authorization: `Bearer ${adminKey}` } });
    const res = await t.app.inject({
      method: "POST",
      url,
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      payload: JSON.stringify(payload),
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json<{ error: { code: string } }>().error.code).toBe("TEXT_INVALID");
    const queues = await t.app.inject({ method: "GET", url: "/api/queues", headers: { authorization: `Bearer ${adminKey}` } });
    expect(queues.json<Array<{ name: string; paused: boolean }>>().find((q) => q.name === "ai-jobs")?.paused).toBe(false);
  });

  it("reads a JSON body sent with curl's default form content type, and says what is wrong with a real form", async () => {
    const headers = { authorization: `Bearer ${adminKey}`, "content-type": "application/x-www-form-urlencoded" };
    const json = await t.app.inject({ method: "POST", url: "/api/queues/ai-jobs/resume", headers, payload: '{"reason":"curl -d"}' });
    expect(json.statusCode, json.body).toBe(200);
    const form = await t.app.inject({ method: "POST", url: "/api/queues/ai-jobs/resume", headers, payload: "reason=x" });
    expect(form.statusCode).toBe(415);
    expect(form.json<{ error: { code: string } }>().error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("names prototype poisoning for what it is", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/queues/ai-jobs/resume",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      payload: '{"reason":"x","__proto__":{"admin":true}}',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: "BODY_MALFORMED", message: expect.stringContaining("__proto__") } });
  });
});
