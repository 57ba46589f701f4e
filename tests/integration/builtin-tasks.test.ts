import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

async function runJob(
  t: TestSluice,
  key: string,
  payload: object,
): Promise<{ status: string; result: Record<string, unknown>; error: string | null; attempts: number }> {
  const res = await t.app.inject({ method: "POST", url: "/ai/jobs", headers: { authorization: `Bearer ${key}` }, payload });
  if (res.statusCode !== 202) throw new Error(`submit failed: ${res.statusCode} ${res.body}`);
  const { id } = res.json<{ id: string }>();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = (await t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: { authorization: `Bearer ${key}` } })).json<{
      status: string;
      result: Record<string, unknown>;
      error: string | null;
      attempts: number;
    }>();
    if (job.status === "completed" || job.status === "failed") return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function setup(env: Record<string, string>): Promise<{ t: TestSluice; key: string }> {
  const t = await startTestSluice({ ...env, AI_RETRY_BASE_DELAY_MS: "10" });
  await t.sluice.startWorkers();
  await t.sluice.intake.ensureWorkspace("ws", "WS", { rateLimitPerMinute: 10_000 });
  const key = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["jobs:write", "jobs:read"] })).secret;
  return { t, key };
}

describe("built-in tasks on the offline local provider", () => {
  let t: TestSluice;
  let key: string;
  beforeAll(async () => {
    ({ t, key } = await setup({}));
  });
  afterAll(async () => {
    await t?.close();
  });

  it("classify labels sentiment", async () => {
    const job = await runJob(t, key, {
      type: "classify",
      input: { text: "I love this, great service, thank you" },
      client_request_id: "c1",
    });
    expect(job.status).toBe("completed");
    expect(job.result).toMatchObject({ label: "positive", provider: "local" });
    const negative = await runJob(t, key, {
      type: "classify",
      input: { text: "terrible, broken and awful experience" },
      client_request_id: "c2",
    });
    expect(negative.result.label).toBe("negative");
  });

  it("embed returns normalised vectors of the configured dimension", async () => {
    const job = await runJob(t, key, { type: "embed", input: { texts: ["red shoes", "blue shoes"] }, client_request_id: "e1" });
    const vectors = job.result.vectors as number[][];
    expect(vectors).toHaveLength(2);
    expect(job.result.dimensions).toBe(384);
    expect(Math.hypot(...(vectors[0] ?? []))).toBeCloseTo(1, 5);
  });

  it("llm.complete answers and reports usage", async () => {
    const job = await runJob(t, key, {
      type: "llm.complete",
      input: { prompt: "Summarise: The shop sells shoes. It opened in 2020. It ships worldwide." },
      client_request_id: "l1",
    });
    expect(job.status).toBe("completed");
    expect(typeof job.result.text).toBe("string");
    expect((job.result.usage as { input_tokens: number }).input_tokens).toBeGreaterThan(0);
  });

  it("rejects a malformed task input at intake", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { authorization: `Bearer ${key}` },
      payload: { type: "classify", input: { text: 5 }, client_request_id: "bad" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].path).toBe("/input/text");
  });

  it("reports the LLM as available on /health/llm", async () => {
    const res = await t.app.inject({ method: "GET", url: "/health/llm" });
    expect(res.json()).toMatchObject({ available: true });
  });
});

describe("built-in tasks against an OpenAI-compatible server", () => {
  let fake: FakeProviderServer;
  let t: TestSluice;
  let key: string;
  beforeAll(async () => {
    fake = await startFakeProviderServer();
    fake.setResponder(() => "positive");
    ({ t, key } = await setup({
      AI_PROVIDER: "openai",
      OPENAI_BASE_URL: fake.openaiBaseUrl,
      OPENAI_API_KEY: "sk-test",
      AI_FALLBACK_PROVIDER: "local",
      AI_BREAKER_THRESHOLD: "2",
      AI_MAX_ATTEMPTS: "2",
    }));
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("classifies through the provider, surviving a 429 with Retry-After", async () => {
    fake.rateLimitNext({ count: 1, retryAfterSeconds: 1 });
    const job = await runJob(t, key, { type: "classify", input: { text: "so-so" }, client_request_id: "o1" });
    expect(job.result).toMatchObject({ label: "positive", provider: "openai", fallback: false });
    expect(fake.stats.rateLimited).toBe(1);
  });

  it("falls back to the local rules during an outage, and says so in the result and /health/llm", async () => {
    fake.setOutage(true);
    const job = await runJob(t, key, { type: "classify", input: { text: "awful and broken" }, client_request_id: "o2" });
    expect(job.status).toBe("completed");
    expect(job.result).toMatchObject({ label: "negative", fallback: true });
    const health = (await t.app.inject({ method: "GET", url: "/health/llm" })).json<{
      breakers: Array<{ provider: string; state: string }>;
      last_error: unknown;
    }>();
    expect(health.last_error).not.toBeNull();
    fake.setOutage(false);
  });
});
