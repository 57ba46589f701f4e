import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/**
 * Issue 8 item 9: in an api/worker split only the workers call the provider, so the API's own
 * breakers are always closed. Two Sluice instances share Redis (or, without Redis, the store); only
 * the "worker" sees the provider fail and its breaker open. The "api" must answer for it, naming it.
 */
interface LlmHealth {
  available: boolean;
  breakers: Array<{ provider: string; model: string; state: string; reported_by?: string[] }>;
  last_error: { code: string; reported_by?: string } | null;
  rate_limits: Array<{ provider: string; remaining_requests?: number; reported_by?: string }>;
  fleet?: { reporter: string; processes?: Array<{ reporter: { id: string; host: string; pid: number } }> };
}

let fake: FakeProviderServer;
let redis: RunningServer;
beforeAll(async () => {
  [fake, redis] = await Promise.all([startFakeProviderServer(), startRedis()]);
});
afterAll(async () => {
  await fake?.close();
  await redis?.stop();
});

describe.each([
  ["Redis", () => ({ REDIS_URL: redis.url })],
  ["the store (no Redis)", () => ({})],
])("/health/llm answers for the fleet through %s", (_name, shared) => {
  let api: TestSluice;
  let worker: TestSluice;
  const llmHealth = async (t: TestSluice) => {
    const res = await t.app.inject({ method: "GET", url: "/health/llm" });
    return { status: res.statusCode, body: res.json<LlmHealth>() };
  };

  beforeAll(async () => {
    fake.reset();
    const env = {
      ...shared(),
      DATABASE_URL: await freshPostgresDatabase("llmfleet"),
      VECTOR_SEARCH_ENABLED: "false",
      AI_PROVIDER: "openai",
      OPENAI_BASE_URL: fake.openaiBaseUrl,
      OPENAI_API_KEY: "sk-test",
      AI_MAX_ATTEMPTS: "1",
      AI_BREAKER_THRESHOLD: "2",
      AI_BREAKER_HALF_OPEN_AFTER_MS: "600000",
    };
    api = await startTestSluice(env);
    worker = await startTestSluice(env);
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await worker?.close();
  });

  it("shows the worker's open breaker, last error and the provider's remaining limit on the API, naming the worker", async () => {
    // The worker makes calls: one answered (the provider reports its remaining budget), then an outage.
    await worker.sluice.runtime.complete({ prompt: "hello" });
    fake.setOutage(true);
    for (let i = 0; i < 2; i++) await worker.sluice.runtime.complete({ prompt: "down" }).catch(() => undefined);
    fake.setOutage(false); // the provider answers again, but the worker's breaker stays open for 10 min
    expect(worker.sluice.runtime.breakers()).toContainEqual({ provider: "openai", model: "gpt-4o-mini", state: "open" });
    expect(api.sluice.runtime.breakers().every((b) => b.state === "closed")).toBe(true); // the API saw nothing itself

    const seen = await until(
      () => llmHealth(api),
      (h) => h.body.breakers.some((b) => b.state === "open"),
      10_000,
      "the API to see the worker's open breaker",
    );
    const workerId = (await llmHealth(worker)).body.fleet?.reporter;
    const apiId = (await llmHealth(api)).body.fleet?.reporter;
    expect(workerId).toBeTruthy();
    expect(apiId).not.toBe(workerId);
    expect(seen.status).toBe(503);
    expect(seen.body.available).toBe(false); // no fallback configured, and the workers refuse calls
    expect(seen.body.breakers).toContainEqual({ provider: "openai", model: "gpt-4o-mini", state: "open", reported_by: [workerId] });
    expect(seen.body.last_error).toMatchObject({ code: "PROVIDER_ERROR", reported_by: workerId });
    expect(seen.body.rate_limits).toContainEqual(
      expect.objectContaining({ provider: "openai", remaining_requests: 9999, reported_by: workerId }),
    );
    expect(seen.body.fleet?.reporter).toBe(apiId);
    expect(seen.body.fleet?.processes?.map((p) => p.reporter.id).sort()).toEqual([apiId, workerId].sort());
    expect(seen.body.fleet?.processes?.[0]?.reporter).toMatchObject({ pid: process.pid });
  }, 30_000);

  it("drops a process that stops", async () => {
    await worker.close();
    const after = await llmHealth(api);
    expect(after.body.fleet?.processes?.map((p) => p.reporter.id)).toEqual([after.body.fleet?.reporter]);
    expect(after.body.breakers.every((b) => b.state === "closed")).toBe(true);
    expect(after.status).toBe(200);
  });
});

describe("/health/llm while the shared Redis hangs", () => {
  it("answers within the health check's bound with this process's own view and says the fleet is unreadable", async () => {
    const frozen = await startRedis();
    const admin = new Redis(frozen.url);
    const pid = Number(/process_id:(\d+)/.exec(await admin.info("server"))?.[1]);
    admin.disconnect();
    const t = await startTestSluice({
      REDIS_URL: frozen.url,
      DATABASE_URL: await freshPostgresDatabase("llmfrozen"),
      VECTOR_SEARCH_ENABLED: "false",
      AI_PROVIDER: "openai",
      OPENAI_BASE_URL: fake.openaiBaseUrl,
      OPENAI_API_KEY: "sk-test",
    });
    try {
      process.kill(pid, "SIGSTOP"); // Redis stops answering, its connections stay open
      const res = await t.app.inject({ method: "GET", url: "/health/llm" });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({
        available: true,
        breakers: [{ provider: "openai", state: "closed" }],
        fleet: { error: expect.stringContaining("could not read") },
      });
    } finally {
      process.kill(pid, "SIGCONT");
      await t.close();
      await frozen.stop();
    }
  }, 60_000);
});
