import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * Broken object-level authorisation, route by route. Every route of the OpenAPI document (so a new
 * route cannot be forgotten), plus the hidden runbook aliases, Bull Board and the ops endpoints, is
 * called with workspace A's ids by: workspace B's admin key (403 or 404, and nothing changes), B's
 * jobs:read and jobs:write keys (403 on admin routes, 403 or 404 on tenant routes), and an operator
 * key (allowed).
 */

interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  queryParams: string[];
}

interface OpenApiDoc {
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
}

// Served without a key by design (liveness, readiness summary): nothing of a workspace to reach.
const OPEN = new Set(["/health", "/ready", "/health/{dependency}", "/api/v1/health"]);
// Not in the OpenAPI document: the seed runbooks' aliases, Bull Board, and the ops views (asked from off the machine).
const EXTRA: Route[] = [
  ...["/api/queue/stats", "/api/admin/queues", "/api/admin/queues/{name}/failed"].map((path) => ({
    method: "GET" as const,
    path,
    queryParams: [],
  })),
  ...[
    "/api/queue/pause-all",
    "/api/queue/resume-all",
    "/api/queue/clean-all",
    "/api/queue/{name}/pause",
    "/api/queue/{name}/resume",
    "/api/queue/{name}/clean",
    "/api/admin/queues/{name}/retry-all",
    "/api/admin/queues/{name}/clean",
  ].map((path) => ({ method: "POST" as const, path, queryParams: [] })),
  { method: "GET", path: "/admin/queues/api/queues", queryParams: [] },
  { method: "PUT", path: "/admin/queues/api/queues/{name}/pause", queryParams: [] },
  { method: "GET", path: "/metrics", queryParams: [] },
  { method: "GET", path: "/docs/json", queryParams: [] },
];
const OPS_VIEWS = new Set(["/metrics", "/docs/json"]);
// The routes this suite knows the objects of, held to exact answers. A route outside them (another
// area's, or a new one) is held to the general rule: B's keys may get an answer about B's own
// workspace, never one that names A's objects or changes them; the operator is never refused.
const CORE = /^\/(api\/(workspaces|keys|audit|queues?|admin|flags|cache|usage|embeddings)\b|admin\/queues|metrics|docs)/;
const isCore = (route: Route) => CORE.test(route.path);
const isTenantRoute = (path: string) => path.startsWith("/ai/") || /^\/api\/workspaces\/\{ws\}\/(items|search)/.test(path);
// A tenant route without an id (POST and GET /ai/jobs) acts on the key's own workspace by construction: nothing of A's to name.
const namesNoObject = (route: Route) => isTenantRoute(route.path) && !route.path.includes("{");

function routesOf(doc: OpenApiDoc): Route[] {
  const routes: Route[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    if (OPEN.has(path)) continue;
    for (const [method, op] of Object.entries(operations)) {
      const upper = method.toUpperCase() as Route["method"];
      if (!["GET", "POST", "PUT", "PATCH", "DELETE"].includes(upper)) continue;
      routes.push({ method: upper, path, queryParams: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name) });
    }
  }
  return [...routes, ...EXTRA].filter((route) => !namesNoObject(route));
}

interface Targets {
  jobId: string;
  keyId: string;
  itemId: string;
}

/** The route's URL with every id pointing into workspace A. */
function urlFor(route: Route, a: Targets): string {
  const id = route.path.startsWith("/api/workspaces/{id}")
    ? "ws-a"
    : route.path.startsWith("/api/keys/")
      ? a.keyId
      : route.path.includes("/items/")
        ? a.itemId
        : route.path.includes("/jobs/{id}")
          ? a.jobId
          : "x";
  const name = route.path.startsWith("/api/flags/") ? "task.llm.complete.enabled" : "ai-jobs";
  const url = route.path
    .replace("{ws}", "ws-a")
    .replace("{workspace}", "ws-a")
    .replace("{id}", encodeURIComponent(id))
    .replace("{name}", encodeURIComponent(name))
    .replace(/\{[^}]+\}/g, "x");
  return route.queryParams.includes("workspace") ? `${url}?workspace=ws-a` : url;
}

const BODIES: Record<string, unknown> = {
  "POST /api/keys": { workspace: "ws-a", scopes: "jobs:read" },
  "POST /api/workspaces": { id: "ws-new" },
  "PATCH /api/workspaces/{id}": { rate_limit_per_minute: 7, reason: "bola" },
  "PUT /api/usage/budgets/{workspace}": { daily_token_budget: 5, reason: "bola" },
  "PUT /api/flags/{name}": { value: true, reason: "bola" },
  "POST /api/embeddings/reindex": { workspace: "ws-a", reason: "bola" },
  "PUT /api/workspaces/{ws}/items": { items: [{ id: "item-b", text: "planted by B" }] },
  "POST /api/workspaces/{ws}/search": { query: "hello" },
  "POST /api/cache/clear": { pattern: "bola-nothing-*", reason: "bola" },
  "POST /api/cache/warm": { items: [], reason: "bola" },
  "POST /ai/jobs": { type: "llm.complete", input: { prompt: "hi" }, client_request_id: "bola-1" },
  "POST /api/webhooks/secret/rotate": { workspace: "ws-a", reason: "bola" },
  "POST /api/admin/workers/concurrency": { queue: "ai-jobs", concurrency: null, reason: "bola" },
};
const bodyOf = (route: Route): unknown =>
  BODIES[`${route.method} ${route.path}`] ?? (route.method === "GET" ? undefined : { reason: "bola" });

for (const engine of embeddedAndServers("bola", 24)) {
  describe(`BOLA on every admin route, on ${engine.name}`, () => {
    let t: TestSluice;
    let routes: Route[];
    const keys = { adminB: "", readerB: "", writerB: "", operator: "", writerA: "" };
    const a: Targets = { jobId: "", keyId: "", itemId: "item-a" };
    const vectors = engine.name.startsWith("embedded");

    /** Whether an answer holds A's objects: its ids, its job's input, or (in a success) its workspace's name. */
    const namesA = (status: number, body: string): boolean =>
      [a.jobId, a.keyId, "A's secret", "A's item"].some((needle) => body.includes(needle)) || (status < 400 && body.includes("ws-a"));

    async function call(route: Route, key: string) {
      const body = bodyOf(route);
      const basic = route.path.startsWith("/admin/queues")
        ? { authorization: `Basic ${Buffer.from(`x:${key}`).toString("base64")}` }
        : { authorization: `Bearer ${key}` };
      return t.app.inject({
        method: route.method,
        url: urlFor(route, a),
        headers: { ...basic, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        remoteAddress: "10.9.8.7",
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
    }

    /** Everything a call on A's behalf could change, as one comparable string. */
    async function fingerprint(): Promise<string> {
      const { sluice } = t;
      return JSON.stringify({
        // B acting on its own workspace is no effect on A's; anything audited elsewhere is.
        audit: (await sluice.audit.list({ limit: 1000 })).filter((row) => row.workspace_id !== "ws-b").length,
        keys: (await sluice.intake.listApiKeys(undefined, { includeRevoked: true })).map((k) => [k.id, k.revokedAt, k.scopes]),
        workspaces: (await sluice.intake.listWorkspaces({ limit: 1000 })).map((w) => [w.id, w.name, w.rateLimitPerMinute]),
        queues: (await sluice.queues.list()).map((q) => [q.name, q.paused, q.waiting, q.failed, q.completed, q.delayed]),
        flags: (await sluice.flags.list(["task.llm.complete.enabled"])).map((f) => [f.name, f.value]),
        budget: await sluice.budgets.list("ws-a"),
        job: (await sluice.queues.findJob("ai-jobs", a.jobId))?.state ?? null,
        items: vectors ? [await sluice.embeddings.item("ws-a", "item-a"), await sluice.embeddings.item("ws-a", "item-b")] : null,
        rows: await rowsOutsideB(),
      });
    }

    /** Every row of every table with a workspace_id that is not B's, hashed: any area's, present or future. */
    async function rowsOutsideB(): Promise<Record<string, string | null>> {
      const { store } = t.sluice;
      const { rows: tables } = await store.query<{ table_name: string }>(
        "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'workspace_id' ORDER BY table_name",
      );
      const hashes: Record<string, string | null> = {};
      for (const { table_name: table } of tables) {
        if (table === "action_audit") continue;
        const { rows } = await store.query<{ h: string | null }>(
          `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) AS h FROM "${table}" t WHERE workspace_id IS DISTINCT FROM 'ws-b'`,
        );
        hashes[table] = rows[0]?.h ?? null;
      }
      return hashes;
    }

    beforeAll(async () => {
      t = await startTestSluice({
        ...(await engine.env()),
        RATE_LIMIT_READS_PER_MINUTE: "1000000",
        RATE_LIMIT_SEARCH_PER_MINUTE: "1000000",
        RATE_LIMIT_INGEST_PER_MINUTE: "1000000",
        OPS_ENDPOINTS: "loopback",
      });
      const { intake } = t.sluice;
      for (const ws of ["ws-a", "ws-b", "ops"]) await intake.ensureWorkspace(ws, ws, { rateLimitPerMinute: 1_000_000 });
      const mint = async (workspaceId: string, scopes: string[]) => intake.createApiKey({ workspaceId, scopes });
      keys.adminB = (await mint("ws-b", ["admin"])).secret;
      keys.readerB = (await mint("ws-b", ["jobs:read"])).secret;
      keys.writerB = (await mint("ws-b", ["jobs:write"])).secret;
      keys.operator = (await mint("ops", ["operator"])).secret;
      const writerA = await mint("ws-a", ["jobs:write", "jobs:read"]);
      keys.writerA = writerA.secret;
      a.keyId = (await mint("ws-a", ["admin"])).id;
      a.jobId = (
        await t.sluice.jobs.submit(await intake.authenticate(writerA.secret), {
          type: "llm.complete",
          input: { prompt: "A's secret" },
          client_request_id: "a-1",
        })
      ).id;
      if (vectors) await t.sluice.embeddings.upsert("ws-a", [{ externalId: "item-a", text: "A's item" }]);
      routes = routesOf((await t.app.inject({ method: "GET", url: "/docs/json" })).json<OpenApiDoc>());
    });
    afterAll(async () => {
      await t?.close();
    });

    it("takes its routes from the OpenAPI document", () => {
      const names = routes.map((r) => `${r.method} ${r.path}`);
      expect(names.length).toBeGreaterThan(40);
      for (const known of ["POST /api/keys", "GET /api/audit", "GET /api/queues/{name}/jobs/{id}", "PUT /api/usage/budgets/{workspace}"])
        expect(names).toContain(known);
    });

    it("workspace B's admin key: 403 or 404 on A's objects and the fleet, nothing of A in any answer, nothing changed", async () => {
      const before = await fingerprint();
      const leaks: string[] = [];
      for (const route of routes) {
        const res = await call(route, keys.adminB);
        const where = `${route.method} ${urlFor(route, a)} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
        const refused = [403, 404].includes(res.statusCode) || (OPS_VIEWS.has(route.path) && res.statusCode === 401);
        // A list of B's own (GET /api/workspaces), or another area's answer about B's workspace, may
        // come back, as long as it holds nothing of A's.
        const ownAnswer = !refused && ((route.method === "GET" && res.statusCode === 200 && !isTenantRoute(route.path)) || !isCore(route));
        if (!refused && !ownAnswer) leaks.push(where);
        if (ownAnswer && namesA(res.statusCode, res.body)) leaks.push(where);
      }
      expect(leaks).toEqual([]);
      expect(await fingerprint()).toBe(before);
    });

    it("workspace B's jobs:read and jobs:write keys: 403 on every admin route, 403 or 404 on A's tenant objects, nothing changed", async () => {
      const before = await fingerprint();
      const wrong: string[] = [];
      for (const key of [keys.readerB, keys.writerB]) {
        for (const route of routes) {
          const res = await call(route, key);
          const where = `${route.method} ${urlFor(route, a)} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
          if (!isCore(route) && !isTenantRoute(route.path)) {
            if (res.statusCode < 500 && !namesA(res.statusCode, res.body)) continue;
            wrong.push(where);
            continue;
          }
          const expected = isTenantRoute(route.path) ? [403, 404] : OPS_VIEWS.has(route.path) ? [401] : [403];
          if (!expected.includes(res.statusCode)) wrong.push(where);
        }
      }
      expect(wrong).toEqual([]);
      expect(await fingerprint()).toBe(before);
    });

    it("an admin key cannot mint an operator key, even for its own workspace", async () => {
      const res = await t.app.inject({
        method: "POST",
        url: "/api/keys",
        headers: { authorization: `Bearer ${keys.adminB}` },
        payload: { workspace: "ws-b", scopes: "operator" },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json<{ error: { code: string } }>().error.code).toBe("FORBIDDEN_SCOPE");
      const own = await t.app.inject({
        method: "POST",
        url: "/api/keys",
        headers: { authorization: `Bearer ${keys.adminB}` },
        payload: { workspace: "ws-b", scopes: "admin,jobs:read" },
      });
      expect(own.statusCode).toBe(201);
    });

    it("an operator key is allowed on every admin route with A's ids", async () => {
      const refused: string[] = [];
      // Reads first and removals last, so that no call finds A's objects already gone.
      const rank = (r: Route) => (r.method === "GET" ? 0 : r.method === "DELETE" ? 2 : 1);
      const admin = routes.filter((r) => !isTenantRoute(r.path) || r.path.startsWith("/api/workspaces/")).sort((x, y) => rank(x) - rank(y));
      for (const route of admin) {
        const res = await call(route, keys.operator);
        const where = `${route.method} ${urlFor(route, a)} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
        const code = res.statusCode >= 400 ? res.json<{ error?: { code?: string } }>().error?.code : undefined;
        // Allowed, and then answered on the merits: a waiting job cannot be retried (409), a PostgreSQL
        // server is backed up with pg_dump (409), and there is no pgvector on Debian's PostgreSQL (503).
        const onMerits =
          (res.statusCode === 409 && ["CONFLICT", "JOB_STATE_CONFLICT", "JOB_NOT_FAILED"].includes(code ?? "")) ||
          code === "EMBEDDINGS_UNAVAILABLE";
        if (isCore(route) ? res.statusCode >= 400 && !onMerits : [401, 403].includes(res.statusCode)) refused.push(where);
      }
      expect(refused).toEqual([]);
    });
  });
}
