import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline, NonRetryableError } from "../../src/pipeline/runs/index.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { runCliAsync } from "../harness/cli.ts";
import { until } from "../harness/wait.ts";

/**
 * Keys whose values are not Sluice's own field names, skipped by name:
 * - the caller's own JSON, kept as sent: `metadata` (an item's), `input`/`output`/`result` (a job's,
 *   a run's, a step's, an action's), `payload` (an approval's, an event's), `details` (an audit
 *   row's), `args`/`notify_args` (an action's), `returnvalue`/`progress` (what a job's handler
 *   returned or reported);
 * - `transitions`: a pipeline's declared states, named by its author;
 * - `input_schema`: a pipeline's input as JSON Schema, whose keywords (`additionalProperties`) are the standard's.
 */
const USER_DATA = new Set([
  "metadata",
  "input",
  "output",
  "result",
  "payload",
  "details",
  "notify_args",
  "args",
  "returnvalue",
  "progress",
  "transitions",
  "input_schema",
]);

/** Answers not converted yet (issue 11, "snake_case everywhere"): none; a camelCase key anywhere fails this test. */
const NOT_YET: Record<string, string[]> = {};

/** Routes of the OpenAPI document whose answer is not JSON: a gzipped tarball. */
const NOT_JSON = new Set(["GET /api/admin/backup"]);

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

/** One call: the OpenAPI route it drives (`METHOD /path/{param}`), the URL with real ids, and its body. */
interface Call {
  route: string;
  url: string;
  body?: unknown;
  /** The status a valid call answers when it is not 2xx, on the merits (e.g. a run that has settled). */
  expect?: number;
  /** One of the seed runbooks' paths, served outside the OpenAPI document (src/server/routes/runbook-aliases.ts). */
  alias?: true;
}

interface Ids {
  job: string;
  failedJob: string;
  run: string;
  waitingRun: string;
  approval: string;
  approval2: string;
  approval3: string;
  delivery: string;
  execution: string;
  key: string;
}

/**
 * Every route with a path parameter and every POST/PUT/PATCH/DELETE, with valid input: creations
 * first, removals last, so that each id is real when it is used.
 */
function calls(ids: Ids): Call[] {
  const reason = "snake-case walk";
  return [
    { route: "GET /health/{dependency}", url: "/health/db" },
    { route: "POST /api/workspaces", url: "/api/workspaces", body: { id: "ws2", name: "Two" } },
    { route: "PATCH /api/workspaces/{id}", url: "/api/workspaces/ws2", body: { rate_limit_per_minute: 77, reason } },
    { route: "POST /api/keys", url: "/api/keys", body: { workspace: "ws2", scopes: "jobs:read" } },
    { route: "POST /api/admin/audit/archive", url: "/api/admin/audit/archive", body: { older_than: "90d", reason } },
    { route: "GET /api/queues/{name}/errors", url: "/api/queues/ai-jobs/errors" },
    { route: "POST /ai/jobs", url: "/ai/jobs", body: { type: "echo", input: { text: "again" }, client_request_id: "walk-1" } },
    { route: "GET /ai/jobs/{id}", url: `/ai/jobs/${ids.job}` },
    { route: "GET /api/admin/queues/{name}", url: "/api/admin/queues/ai-jobs" },
    { route: "GET /api/queues/{name}", url: "/api/queues/ai-jobs" },
    { route: "GET /api/queues/{name}/jobs", url: "/api/queues/ai-jobs/jobs?state=failed" },
    { route: "GET /api/queues/{name}/jobs/{id}", url: `/api/queues/ai-jobs/jobs/${ids.job}` },
    // The seed runbooks' paths (hidden from the document) while a job is failed.
    ...["/api/queue/stats", "/api/admin/queues", "/api/admin/queues/ai-jobs/failed"].map((url) => ({
      route: `GET ${url}`,
      url,
      alias: true as const,
    })),
    { route: "POST /api/queues/{name}/jobs/{id}/retry", url: `/api/queues/ai-jobs/jobs/${ids.failedJob}/retry`, body: { reason } },
    { route: "PUT /api/flags/{name}", url: "/api/flags/task.echo.enabled", body: { value: true, reason } },
    { route: "GET /api/flags/{name}", url: "/api/flags/task.echo.enabled" },
    { route: "POST /api/cache/clear", url: "/api/cache/clear", body: { pattern: "nothing-*", reason } },
    { route: "POST /api/cache/warm", url: "/api/cache/warm", body: { items: [{ type: "echo", input: { text: "warm" } }], reason } },
    { route: "PUT /api/usage/budgets/{workspace}", url: "/api/usage/budgets/ws", body: { daily_token_budget: 1000, reason } },
    { route: "GET /api/usage/budgets/{workspace}", url: "/api/usage/budgets/ws" },
    { route: "PUT /api/workspaces/{ws}/items", url: "/api/workspaces/ws/items", body: { items: [{ id: "p2", text: "blue hat" }] } },
    { route: "GET /api/workspaces/{ws}/items/{id}", url: "/api/workspaces/ws/items/p1" },
    { route: "POST /api/workspaces/{ws}/search", url: "/api/workspaces/ws/search", body: { query: "red", k: 2 } },
    { route: "POST /api/embeddings/reindex", url: "/api/embeddings/reindex", body: { workspace: "ws", reason } },
    { route: "POST /api/embeddings/maintenance/vacuum", url: "/api/embeddings/maintenance/vacuum", body: { reason } },
    { route: "POST /api/embeddings/maintenance/reindex", url: "/api/embeddings/maintenance/reindex", body: { reason } },
    {
      route: "POST /api/actions/{name}/execute",
      url: "/api/actions/task.create/execute",
      body: { args: { title: "walk" }, idempotency_key: "walk-2" },
    },
    // Only an execution whose outcome is unknown can be resolved; a settled one answers 409 on the merits.
    {
      route: "POST /api/actions/executions/{id}/resolve",
      url: `/api/actions/executions/${ids.execution}/resolve`,
      body: { resolution: "skip", reason },
      expect: 409,
    },
    { route: "POST /api/pipelines/{name}/runs", url: "/api/pipelines/greet/runs", body: { input: { name: "bo" }, tags: ["walk"] } },
    { route: "GET /api/runs/{id}", url: `/api/runs/${ids.run}?wait=20` },
    { route: "GET /api/runs/{id}/events", url: `/api/runs/${ids.run}/events` },
    { route: "POST /api/runs/{id}/replay", url: `/api/runs/${ids.run}/replay`, body: { from_step: "compose" } },
    { route: "POST /api/runs/{id}/cancel", url: `/api/runs/${ids.waitingRun}/cancel`, body: { reason } },
    { route: "POST /api/runs/cancel", url: "/api/runs/cancel", body: { tag: "campaign", reason } },
    { route: "POST /api/events", url: "/api/events", body: { name: "order.paid", payload: { order: "none" } } },
    { route: "GET /api/entities/{pipeline}/{key}", url: "/api/entities/nurture/client-7" },
    { route: "POST /api/entities/{pipeline}/{key}/rerun", url: "/api/entities/nurture/client-7/rerun", body: { reason } },
    {
      route: "POST /api/entities/{pipeline}/{key}/state",
      url: "/api/entities/nurture/client-7/state",
      body: { state: "churned", reason, bypass_rules: true },
    },
    { route: "GET /api/webhooks/deliveries/{id}", url: `/api/webhooks/deliveries/${ids.delivery}` },
    { route: "POST /api/webhooks/deliveries/{id}/redeliver", url: `/api/webhooks/deliveries/${ids.delivery}/redeliver`, body: { reason } },
    { route: "POST /api/webhooks/secret/rotate", url: "/api/webhooks/secret/rotate", body: { reason } },
    {
      route: "PUT /api/approval-types/{type}",
      url: "/api/approval-types/kyc",
      body: { sla_seconds: 3600, on_deadline: "escalate", escalate_to: "lead", reason },
    },
    { route: "POST /api/approvals", url: "/api/approvals", body: { approval_type: "kyc", assignee: "ana", payload: { client: "c-9" } } },
    { route: "GET /api/approvals/{id}", url: `/api/approvals/${ids.approval}` },
    { route: "POST /api/approvals/{id}/approve", url: `/api/approvals/${ids.approval}/approve`, body: { reason } },
    { route: "POST /api/approvals/{id}/reject", url: `/api/approvals/${ids.approval2}/reject`, body: { reason } },
    { route: "POST /api/approvals/{id}/reassign", url: `/api/approvals/${ids.approval3}/reassign`, body: { assignee: "bob", reason } },
    { route: "POST /api/approvals/archive", url: "/api/approvals/archive", body: { older_than: "30d", reason } },
    {
      route: "PUT /api/schedules/{name}",
      url: "/api/schedules/nightly",
      body: { cron: "0 3 * * *", tz: "UTC", target: { kind: "task", name: "echo", input: { text: "n" } }, reason },
    },
    { route: "GET /api/schedules/{name}", url: "/api/schedules/nightly" },
    { route: "GET /api/admin/workers/{name}", url: "/api/admin/workers/ai-jobs" },
    {
      route: "POST /api/admin/workers/concurrency",
      url: "/api/admin/workers/concurrency",
      body: { queue: "ai-jobs", concurrency: 3, reason },
    },
    { route: "POST /api/queues/{name}/pause", url: "/api/queues/ai-jobs/pause", body: { reason } },
    { route: "POST /api/queues/{name}/resume", url: "/api/queues/ai-jobs/resume", body: { reason } },
    { route: "POST /api/queues/pause-all", url: "/api/queues/pause-all", body: { reason } },
    { route: "POST /api/queues/resume-all", url: "/api/queues/resume-all", body: { reason } },
    { route: "POST /api/queues/{name}/retry-all", url: "/api/queues/ai-jobs/retry-all", body: { reason } },
    { route: "POST /api/queues/{name}/clean", url: "/api/queues/ai-jobs/clean", body: { status: "failed", grace: 0, reason } },
    { route: "POST /api/queues/clean-all", url: "/api/queues/clean-all", body: { grace: "24h", reason } },
    ...[
      "/api/queue/pause-all",
      "/api/queue/resume-all",
      "/api/queue/clean-all",
      "/api/queue/ai-jobs/pause",
      "/api/queue/ai-jobs/resume",
      "/api/queue/ai-jobs/clean",
      "/api/admin/queues/ai-jobs/retry-all",
      "/api/admin/queues/ai-jobs/clean",
    ].map((url) => ({ route: `POST ${url}`, url, body: { reason }, alias: true as const })),
    { route: "DELETE /api/schedules/{name}", url: "/api/schedules/nightly", body: { reason } },
    { route: "DELETE /api/flags/{name}", url: "/api/flags/task.echo.enabled", body: { reason } },
    { route: "DELETE /api/workspaces/{ws}/items/{id}", url: "/api/workspaces/ws/items/p2" },
    { route: "DELETE /api/queues/{name}/jobs/{id}", url: `/api/queues/ai-jobs/jobs/${ids.job}`, body: { reason } },
    { route: "DELETE /api/keys/{id}", url: `/api/keys/${ids.key}`, body: { reason } },
  ];
}

/** Every route of the OpenAPI document as `METHOD /path`. */
interface OpenApiDoc {
  paths: Record<string, Record<string, unknown>>;
}
const routesOf = (doc: OpenApiDoc): string[] =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));

/** The JSON of an answer: the body, or each `data:` line of a Server-Sent Events stream. */
function jsonOf(contentType: string, body: string): unknown {
  if (contentType.includes("text/event-stream"))
    return body
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => JSON.parse(line.slice(5)) as unknown);
  return contentType.includes("json") ? (JSON.parse(body) as unknown) : undefined;
}

describe("the HTTP API answers in snake_case", () => {
  let t: TestSluice;
  let key: string;
  let receiver: Server;
  let receiverUrl: string;
  let doc: OpenApiDoc;
  const ids = {} as Ids;
  const auth = () => ({ authorization: `Bearer ${key}` });
  const inject = (method: string, url: string, body?: unknown) =>
    t.app.inject({
      method: method as "GET",
      url,
      headers: auth(),
      ...(body === undefined ? {} : { payload: body as object }),
    });
  const post = async <T>(url: string, body: unknown): Promise<T> => {
    const res = await inject("POST", url, body);
    expect(res.statusCode, `${url}: ${res.body}`).toBeLessThan(300);
    return res.json<T>();
  };

  beforeAll(async () => {
    // A callback receiver that takes every delivery.
    receiver = createServer((req, res) => req.resume().on("end", () => res.writeHead(200).end()));
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    t = await startTestSluice({
      ACTIONS_ENABLED: "true",
      ALLOW_ACTIONS_DEFAULT: "task.create",
      WEBHOOK_ALLOW_PRIVATE: "true",
      WEBHOOK_SIGNING_SECRET: "snake-case-signing-secret-0123456789",
      RATE_LIMIT_READS_PER_MINUTE: "1000000",
    });
    registerWork(t);
    await t.sluice.startWorkers();
    await t.sluice.intake.ensureWorkspace("ws", "WS", { rateLimitPerMinute: 1_000_000 });
    key = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["admin", "operator", "jobs:write", "jobs:read"] })).secret;
    ids.key = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["jobs:read"] })).id;
    const put = await t.app.inject({
      method: "PUT",
      url: "/api/workspaces/ws/items",
      headers: auth(),
      payload: { items: [{ id: "p1", text: "red shoes", metadata: { camelCaseKept: true } }] },
    });
    expect(put.statusCode, put.body).toBe(200);
    await until(
      async () => (await inject("GET", "/api/workspaces/ws/items/p1")).json<{ status: string }>().status,
      (s) => s === "completed",
      30_000,
      "item embedded",
    );
    await createObjects();
    doc = (await inject("GET", "/docs/json")).json<OpenApiDoc>();
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  function registerWork(test: TestSluice): void {
    test.sluice.task("echo", async (input: { text: string }) => ({ echoed: input.text }));
    test.sluice.task("doomed", async () => {
      throw new NonRetryableError("this task always fails", "DOOMED");
    });
    test.sluice.pipeline(
      definePipeline({ name: "greet", input: z.object({ name: z.string() }) }, async (input, step) => ({
        greeting: await step.run("compose", () => `hello ${input.name}`),
      })),
    );
    test.sluice.pipeline(
      definePipeline({ name: "await-payment", input: z.object({ order: z.string() }) }, async (input, step) => {
        await step.waitForEvent("paid", { event: "order.paid", match: { order: input.order } });
      }),
    );
    test.sluice.pipeline(
      definePipeline(
        { name: "nurture", input: z.object({ state: z.string() }), transitions: { active: ["at_risk"], at_risk: ["active", "churned"] } },
        async (input, step) => {
          await step.setState(input.state, "scored");
        },
      ),
    );
  }

  /** A job with a delivered callback, a failed job, a settled run, a waiting run, an entity, approvals, an action execution. */
  async function createObjects(): Promise<void> {
    const job = (input: object) => post<{ id: string }>("/ai/jobs", input);
    ids.job = (await job({ type: "echo", input: { text: "hi" }, client_request_id: "j-1", callback_url: `${receiverUrl}/hook` })).id;
    ids.failedJob = (await job({ type: "doomed", input: {}, client_request_id: "j-2" })).id;
    ids.run = (await post<{ id: string }>("/api/pipelines/greet/runs", { input: { name: "ada" } })).id;
    ids.waitingRun = (await post<{ id: string }>("/api/pipelines/await-payment/runs", { input: { order: "o-1" }, tags: ["campaign"] })).id;
    const entityRun = (await post<{ id: string }>("/api/pipelines/nurture/runs", { input: { state: "active" }, entity_key: "client-7" }))
      .id;
    for (const run of [ids.run, entityRun]) await inject("GET", `/api/runs/${run}?wait=20`);
    const open = () => post<{ id: string }>("/api/approvals", { approval_type: "kyc", assignee: "ana", payload: {} });
    ids.approval = (await open()).id;
    ids.approval2 = (await open()).id;
    ids.approval3 = (await open()).id;
    ids.execution = (
      await post<{ execution_id: string }>("/api/actions/task.create/execute", { args: { title: "x" }, idempotency_key: "walk-1" })
    ).execution_id;
    const deliveries = await until(
      async () => (await inject("GET", `/api/webhooks/deliveries?job=${ids.job}`)).json<Array<{ id: string; status: string }>>(),
      (rows) => rows[0]?.status === "delivered",
      30_000,
      "callback delivered",
    );
    ids.delivery = deliveries[0]?.id ?? "";
    await until(
      async () => (await inject("GET", `/ai/jobs/${ids.failedJob}`)).json<{ status: string }>().status,
      (s) => s === "failed",
      30_000,
      "job failed",
    );
  }

  it("has no camelCase key in any GET without path parameters", async () => {
    const paths = Object.entries(doc.paths)
      .filter(([p, ops]) => "get" in ops && !p.includes("{"))
      .map(([p]) => p);
    expect(paths).toEqual(
      expect.arrayContaining(["/api/queues", "/api/embeddings/backlog", "/api/embeddings/batches", "/api/cache/stats", "/api/usage"]),
    );
    const found: Record<string, string[]> = {};
    for (const path of [...paths, "/health/llm", "/health/queue"]) {
      const res = await inject("GET", path);
      if (!res.headers["content-type"]?.toString().includes("json")) continue;
      const keys = [...camelKeys(res.json())].sort();
      if (keys.length > 0) found[path] = keys;
    }
    expect(found).toEqual(NOT_YET);
  });

  it("the CLI reads the snake_case fields: `sluice jobs` shows a failed job's attempts and reason", async () => {
    const url = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const listed = await runCliAsync(["jobs", "ai-jobs", "--state", "failed"], { SLUICE_URL: url, SLUICE_API_KEY: key });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${ids.failedJob}\\s+doomed\\s+failed\\s+1\\s+DOOMED: this task always fails$`, "m"));
  });

  it("drives every route with a path parameter and every POST/PUT/PATCH/DELETE once: no camelCase key in any answer", async () => {
    const walk = calls(ids);
    const driven = new Set(walk.filter((c) => !c.alias).map((c) => c.route));
    const due = routesOf(doc).filter((r) => (!r.startsWith("GET ") || r.includes("{")) && !NOT_JSON.has(r));
    expect(due.filter((r) => !driven.has(r))).toEqual([]);
    expect([...driven].filter((r) => !due.includes(r))).toEqual([]);

    const found: Record<string, string[]> = {};
    const failed: string[] = [];
    for (const call of walk) {
      const method = call.route.split(" ")[0] ?? "GET";
      const res = await inject(method, call.url, call.body);
      const ok = call.expect === undefined ? res.statusCode < 300 : res.statusCode === call.expect;
      if (!ok) failed.push(`${method} ${call.url} -> ${res.statusCode} ${res.body.slice(0, 300)}`);
      const json = jsonOf(res.headers["content-type"]?.toString() ?? "", res.body);
      if (json === undefined && res.statusCode !== 204)
        failed.push(`${method} ${call.url}: not JSON (${String(res.headers["content-type"])})`);
      const keys = [...camelKeys(json)].sort();
      if (keys.length > 0) found[call.route] = keys;
    }
    expect(failed).toEqual([]);
    expect(found).toEqual(NOT_YET);
  });

  it("keeps the caller's own metadata keys as sent", async () => {
    const item = (await inject("GET", "/api/workspaces/ws/items/p1")).json<Record<string, unknown>>();
    expect(item).toMatchObject({
      external_id: "p1",
      workspace_id: "ws",
      retry_count: 0,
      error_message: null,
      metadata: { camelCaseKept: true },
    });
  });
});
