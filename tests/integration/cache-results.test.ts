import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { redisUrl } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * The result cache end to end: jobs through the built-in tasks against the fake provider, the
 * cache on the run's real Redis under a key prefix of its own, and the admin API.
 */

type JobView = { status: string; result: Record<string, unknown> };
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

async function setup(env: Record<string, string>): Promise<{ t: TestSluice; admin: string; writer: string }> {
  const t = await startTestSluice({ AI_RETRY_BASE_DELAY_MS: "10", ...env });
  await t.sluice.startWorkers();
  await t.sluice.intake.ensureWorkspace("ws", "WS", { rateLimitPerMinute: 10_000 });
  const admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["operator"] })).secret;
  const writer = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["jobs:write", "jobs:read"] })).secret;
  return { t, admin, writer };
}

async function run(t: TestSluice, key: string, type: string, input: object): Promise<Record<string, unknown>> {
  const res = await t.app.inject({
    method: "POST",
    url: "/ai/jobs",
    headers: auth(key),
    payload: { type, input, client_request_id: randomUUID() },
  });
  if (res.statusCode !== 202) throw new Error(`submit failed: ${res.statusCode} ${res.body}`);
  const { id } = res.json<{ id: string }>();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = (await t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: auth(key) })).json<JobView>();
    if (job.status === "completed") return job.result;
    if (job.status === "failed" || Date.now() > deadline) throw new Error(`job ${id}: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("result cache on Redis (CACHE_REDIS_URL)", () => {
  let fake: FakeProviderServer;
  let t: TestSluice;
  let admin: string;
  let writer: string;
  let redis: Redis;
  const prefix = `test:cache:${randomUUID()}:`;
  const stats = async () =>
    (await t.app.inject({ method: "GET", url: "/api/cache/stats", headers: auth(admin) })).json<Record<string, number | string>>();

  beforeAll(async () => {
    fake = await startFakeProviderServer();
    fake.setEmbeddingDimensions(8);
    redis = new Redis(redisUrl(0));
    ({ t, admin, writer } = await setup({
      CACHE_REDIS_URL: redisUrl(0),
      CACHE_KEY_PREFIX: prefix,
      CACHE_TTL_SECONDS: "120",
      AI_PROVIDER: "openai",
      OPENAI_BASE_URL: fake.openaiBaseUrl,
      OPENAI_API_KEY: "sk-test",
      AI_EMBEDDING_DIMENSIONS: "8",
      AI_FALLBACK_PROVIDER: "local",
      AI_MAX_ATTEMPTS: "2",
      AI_BREAKER_THRESHOLD: "2",
    }));
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    redis?.disconnect();
  });
  beforeEach(() => {
    fake.reset();
    fake.setEmbeddingDimensions(8);
  });

  it("embed: the second identical call is a hit, served without calling the provider; stats and metrics count it", async () => {
    const first = await run(t, writer, "embed", { text: "red shoes" });
    const second = await run(t, writer, "embed", { text: "red shoes" });
    expect(first.cached).toBe(false);
    expect(second.cached).toBe(true);
    expect(second.vectors).toEqual(first.vectors);
    expect(fake.stats.byRoute.embeddings).toBe(1);
    expect(await stats()).toMatchObject({
      engine: "redis",
      hits: 1,
      misses: 1,
      hit_rate: 0.5,
      keys: 1,
      counters: "fleet",
      ttl_seconds: 120,
    });
    const metrics = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toMatch(/ai_cache_hits_total\{task="embed"\} 1/);
    expect(metrics).toMatch(/ai_cache_misses_total\{task="embed"\} 1/);
    const [key] = await redis.keys(`${prefix}*`); // a test may use KEYS on its own prefix
    expect(key).toMatch(new RegExp(`^${prefix}embed:openai:text-embedding-3-small:[0-9a-f]{64}$`));
    const ttl = await redis.ttl(key ?? "");
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it("keys are canonical: the same classify input with its JSON keys in another order hits", async () => {
    await run(t, writer, "classify", { text: "great service", labels: ["good", "bad"] });
    const again = await run(t, writer, "classify", { labels: ["good", "bad"], text: "great service" });
    expect(again.cached).toBe(true);
    expect(fake.stats.requests).toBe(1);
  });

  it("llm.complete is cached at temperature 0 or absent, not above 0; cache:false opts out", async () => {
    await run(t, writer, "llm.complete", { prompt: "say hi" });
    expect((await run(t, writer, "llm.complete", { prompt: "say hi", temperature: 0 })).cached).toBe(false); // temperature 0 is not "absent": its own key
    expect((await run(t, writer, "llm.complete", { prompt: "say hi" })).cached).toBe(true);
    const warm = await run(t, writer, "llm.complete", { prompt: "say hi", temperature: 0.8 });
    expect(warm.cached).toBeUndefined();
    await run(t, writer, "llm.complete", { prompt: "say hi", temperature: 0.8 });
    const optOut = await run(t, writer, "embed", { text: "red shoes", cache: false });
    expect(optOut.cached).toBeUndefined();
    expect(fake.stats.requests).toBe(5);
  });

  it("a fallback answer is not stored: after the outage the provider is asked again", async () => {
    fake.setOutage(true);
    const during = await run(t, writer, "classify", { text: "terrible and broken" });
    expect(during).toMatchObject({ fallback: true, cached: false });
    fake.setOutage(false);
    await new Promise((r) => setTimeout(r, 100));
    t.sluice.runtime.isolate({ provider: "openai" });
    t.sluice.runtime.release({ provider: "openai" }); // close the breaker the outage opened
    fake.setResponder(() => "negative");
    const after = await run(t, writer, "classify", { text: "terrible and broken" });
    expect(after).toMatchObject({ fallback: false, cached: false, provider: "openai" });
  });

  it("clear by pattern removes only matching keys (SCAN on the prefix, nothing outside it), audited", async () => {
    const outsider = `test:cache-outsider:${randomUUID()}`;
    await redis.set(outsider, "keep");
    await run(t, writer, "embed", { text: "blue shoes" });
    const before = Number((await stats()).keys);
    const embedKeys = (await redis.keys(`${prefix}embed:*`)).length;
    expect(embedKeys).toBeGreaterThan(0);
    const forbidden = await t.app.inject({ method: "POST", url: "/api/cache/clear", headers: auth(writer), payload: {} });
    expect(forbidden.statusCode).toBe(403);
    const res = await t.app.inject({
      method: "POST",
      url: "/api/cache/clear",
      headers: auth(admin),
      payload: { pattern: "embed:*", reason: "model change" },
    });
    expect(res.json()).toMatchObject({ pattern: "embed:*", removed: embedKeys, engine: "redis" });
    expect(Number((await stats()).keys)).toBe(before - embedKeys);
    expect((await redis.keys(`${prefix}classify:*`)).length).toBeGreaterThan(0);
    const all = await t.app.inject({ method: "POST", url: "/api/cache/clear", headers: auth(admin), payload: {} });
    expect(all.json().removed).toBe(before - embedKeys);
    expect(await redis.get(outsider)).toBe("keep");
    expect((await t.sluice.audit.list({ action: "cache.clear" }))[1]).toMatchObject({
      target: "embed:*",
      reason: "model change",
      details: { removed: embedKeys },
    });
    await redis.del(outsider);
  });

  it("warm runs inputs through the runtime and stores them; a later job is a hit; audited", async () => {
    const items = [
      { type: "embed", input: { text: "warm me" } },
      { type: "llm.complete", input: { prompt: "creative", temperature: 1 } },
      { type: "no.such.task", input: {} },
      { type: "classify", input: { text: 5 } },
    ];
    const res = await t.app.inject({
      method: "POST",
      url: "/api/cache/warm",
      headers: auth(admin),
      payload: { items, reason: "after deploy" },
    });
    expect(res.statusCode).toBe(200);
    const report = res.json<{
      warmed: number;
      not_cacheable: number;
      failed: number;
      items: Array<{ status: string; error?: { code: string } }>;
    }>();
    expect(report).toMatchObject({ warmed: 1, not_cacheable: 1, failed: 2 });
    expect(report.items.map((i) => i.error?.code ?? i.status)).toEqual([
      "warmed",
      "not_cacheable",
      "JOB_TYPE_UNKNOWN",
      "VALIDATION_FAILED",
    ]);
    expect(fake.stats.requests).toBe(1);
    const again = await t.app.inject({ method: "POST", url: "/api/cache/warm", headers: auth(admin), payload: [items[0]] });
    expect(again.json()).toMatchObject({ already_cached: 1, warmed: 0 });
    expect((await run(t, writer, "embed", { text: "warm me" })).cached).toBe(true);
    expect(fake.stats.requests).toBe(1);
    expect((await t.sluice.audit.list({ action: "cache.warm" }))[1]).toMatchObject({
      reason: "after deploy",
      details: { warmed: 1, failed: 2 },
    });
  });
});

describe("result cache in process (no Redis)", () => {
  let t: TestSluice;
  let admin: string;
  let writer: string;
  beforeAll(async () => {
    ({ t, admin, writer } = await setup({ CACHE_MAX_ENTRIES: "100" }));
  });
  afterAll(async () => {
    await t?.close();
  });

  it("hits, counts per process, clears by pattern", async () => {
    await run(t, writer, "embed", { text: "local text" });
    expect((await run(t, writer, "embed", { text: "local text" })).cached).toBe(true);
    await run(t, writer, "classify", { text: "lovely" });
    const stats = (await t.app.inject({ method: "GET", url: "/api/cache/stats", headers: auth(admin) })).json();
    expect(stats).toMatchObject({ engine: "memory", counters: "process", hits: 1, misses: 2, keys: 2 });
    const cleared = await t.app.inject({
      method: "POST",
      url: "/api/cache/clear",
      headers: auth(admin),
      payload: { pattern: "classify:local:*" },
    });
    expect(cleared.json()).toMatchObject({ removed: 1, engine: "memory" });
    expect((await run(t, writer, "embed", { text: "local text" })).cached).toBe(true);
    expect((await run(t, writer, "classify", { text: "lovely" })).cached).toBe(false);
  });
});
