import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { msUntilUtcMidnight } from "../../src/pipeline/accounting/index.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * Accounting and daily budgets end to end: jobs against the fake provider (which counts the
 * tokens it reports), usage in PGlite's `ai_usage_daily`, the usage API, metrics and the budget gate.
 */

type JobView = { id: string; status: string; result: Record<string, unknown> | null; attempts: number };
type UsageRow = {
  day: string;
  workspace_id: string;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  requests: number;
};

let fake: FakeProviderServer;
let t: TestSluice;
let admin: string;
const writers: Record<string, string> = {};
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function submit(ws: string, type: string, input: object) {
  return t.app.inject({
    method: "POST",
    url: "/ai/jobs",
    headers: auth(writers[ws] ?? ""),
    payload: { type, input, client_request_id: randomUUID() },
  });
}

async function waitJob(ws: string, id: string, done = (j: JobView) => j.status === "completed" || j.status === "failed"): Promise<JobView> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = (await t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: auth(writers[ws] ?? "") })).json<JobView>();
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}`);
    await sleep(50);
  }
}

async function run(ws: string, type: string, input: object): Promise<JobView> {
  const res = await submit(ws, type, input);
  expect(res.statusCode, res.body).toBe(202);
  return waitJob(ws, res.json<{ id: string }>().id);
}

async function usage(
  query: string,
): Promise<{ rows: UsageRow[]; totals: Record<string, number>; budgets: Array<Record<string, unknown>> }> {
  const res = await t.app.inject({ method: "GET", url: `/api/usage?${query}`, headers: auth(admin) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const setBudget = (ws: string, tokens: number | null) =>
  t.app.inject({
    method: "PUT",
    url: `/api/usage/budgets/${ws}`,
    headers: auth(admin),
    payload: { daily_token_budget: tokens, reason: "test" },
  });

beforeAll(async () => {
  fake = await startFakeProviderServer();
  fake.setEmbeddingDimensions(8);
  t = await startTestSluice({
    AI_PROVIDER: "openai",
    OPENAI_BASE_URL: fake.openaiBaseUrl,
    OPENAI_API_KEY: "sk-test",
    AI_EMBEDDING_DIMENSIONS: "8",
    AI_PRICES: "openai/gpt-4o-mini=1.5:3,openai/text-embedding-3-small=0.5:0",
    KILL_SWITCH_RECHECK_MS: "300",
    FLAGS_CACHE_MS: "200",
    CACHE_ENABLED: "false",
  });
  for (const ws of ["ws-a", "ws-b", "ws-c"]) {
    await t.sluice.intake.ensureWorkspace(ws, ws, { rateLimitPerMinute: 10_000 });
    writers[ws] = (await t.sluice.intake.createApiKey({ workspaceId: ws, scopes: ["jobs:write", "jobs:read"] })).secret;
  }
  admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-a", scopes: ["operator"] })).secret;
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});
beforeEach(() => {
  fake.reset();
  fake.setEmbeddingDimensions(8);
});

describe("budgets hold queued jobs (workers not started yet)", () => {
  it("a queued job of a workspace over budget waits without spending an attempt, and runs once the budget allows", async () => {
    const res = await submit("ws-c", "llm.complete", { prompt: "held back" });
    const { id } = res.json<{ id: string }>();
    expect((await setBudget("ws-c", 10)).statusCode).toBe(200);
    t.sluice.accounting.record({ workspace: "ws-c", provider: "openai", model: "gpt-4o-mini", inputTokens: 8, outputTokens: 4 });
    await t.sluice.accounting.flush();
    await sleep(300);
    await t.sluice.startWorkers({ concurrency: 4 });
    const held = await waitJob("ws-c", id, (j) => j.status === "delayed");
    expect(held.attempts).toBe(0);
    expect(fake.stats.requests).toBe(0);
    await sleep(800);
    expect((await t.sluice.queues.getJob("ai-jobs", id)).attemptsMade).toBe(0);
    await setBudget("ws-c", 0); // unlimited
    const done = await waitJob("ws-c", id);
    expect(done.status).toBe("completed");
  });
});

describe("accounting", () => {
  it("records each provider call's tokens and cost per workspace, provider and model, and upserts repeats", async () => {
    await run("ws-a", "llm.complete", { prompt: "Count these tokens please" });
    await run("ws-a", "llm.complete", { prompt: "And these ones as well, please" });
    await run("ws-b", "llm.complete", { prompt: "Another workspace" });
    const report = await usage("workspace=ws-a&days=1");
    const row = report.rows.find((r) => r.model === "gpt-4o-mini");
    expect(row).toBeDefined();
    const all = await usage("days=1");
    const b = all.rows.find((r) => r.workspace_id === "ws-b");
    expect((row?.input_tokens ?? 0) + (b?.input_tokens ?? 0)).toBe(fake.stats.inputTokens);
    expect((row?.output_tokens ?? 0) + (b?.output_tokens ?? 0)).toBe(fake.stats.outputTokens);
    expect(row).toMatchObject({ workspace_id: "ws-a", provider: "openai", requests: 2, day: new Date().toISOString().slice(0, 10) });
    expect(row?.cost_usd).toBeCloseTo(((row?.input_tokens ?? 0) * 1.5 + (row?.output_tokens ?? 0) * 3) / 1e6, 8);
    expect(report.rows.every((r) => r.workspace_id === "ws-a")).toBe(true);
  });

  it("counts embeddings with no output tokens, and exports ai_tokens_total and ai_cost_usd_total", async () => {
    await run("ws-b", "embed", { texts: ["one two three", "four five"] });
    const row = (await usage("workspace=ws-b")).rows.find((r) => r.model === "text-embedding-3-small");
    expect(row).toMatchObject({ input_tokens: fake.stats.inputTokens, output_tokens: 0, requests: 1 });
    const metrics = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toContain(
      `ai_tokens_total{workspace="ws-b",provider="openai",model="text-embedding-3-small",direction="input"} ${fake.stats.inputTokens}`,
    );
    expect(metrics).toMatch(/ai_cost_usd_total\{workspace="ws-a",provider="openai",model="gpt-4o-mini"\} \d/);
  });

  it("the usage API needs an admin key", async () => {
    expect((await t.app.inject({ method: "GET", url: "/api/usage", headers: auth(writers["ws-a"] ?? "") })).statusCode).toBe(403);
  });
});

describe("daily token budget", () => {
  it("once spent, new jobs get 429 BUDGET_EXHAUSTED with Retry-After until UTC midnight; other workspaces are unaffected", async () => {
    expect((await setBudget("ws-b", 5)).json()).toMatchObject({
      workspace_id: "ws-b",
      daily_token_budget: 5,
      budget_source: "workspace",
      exhausted: true,
    });
    await sleep(250);
    const refused = await submit("ws-b", "llm.complete", { prompt: "one more" });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe("BUDGET_EXHAUSTED");
    const retryAfter = Number(refused.headers["retry-after"]);
    const expected = msUntilUtcMidnight(Date.now()) / 1000;
    expect(retryAfter).toBeGreaterThanOrEqual(Math.floor(expected) - 2);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(expected) + 61);
    expect((await submit("ws-a", "llm.complete", { prompt: "fine" })).statusCode).toBe(202);
    const listed = (await usage("days=1")).budgets.find((x) => x.workspace_id === "ws-b");
    expect(listed).toMatchObject({ daily_token_budget: 5, exhausted: true, remaining: 0 });
    expect((await t.sluice.audit.list({ action: "budget.set" }))[0]).toMatchObject({ target: "ws-b", details: { daily_token_budget: 5 } });
  });

  it("a budget for a workspace that does not exist is a 404; a bad value a 400", async () => {
    expect((await setBudget("no-such-ws", 10)).statusCode).toBe(404);
    expect(
      (await t.app.inject({ method: "PUT", url: "/api/usage/budgets/ws-a", headers: auth(admin), payload: { daily_token_budget: -1 } }))
        .statusCode,
    ).toBe(400);
  });
});
