import { createRedisKv } from "../../src/adapters/kv/redis/kv.ts";
import { createMemoryLimitCounters } from "../../src/adapters/limits/memory/counters.ts";
import { createRedisLimitCounters } from "../../src/adapters/limits/redis/counters.ts";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { createPrometheusMetrics } from "../../src/adapters/metrics/prometheus.ts";
import { createOpenAIProvider } from "../../src/adapters/provider/openai/provider.ts";
import { RateLimitedError } from "../../src/core/errors.ts";
import { createProviderRuntime, rateLimitKey, type ProviderRuntime, type ProviderRuntimeLimits } from "../../src/pipeline/runtime/index.ts";
import { redisUrl } from "../harness/databases.ts";
import { until } from "../harness/wait.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";

/**
 * Requests/min and tokens/min against a fake provider that enforces its own limits. Two runtimes
 * with their own Redis connections stand for two worker processes.
 */

let server: FakeProviderServer;
const redises: Redis[] = [];
const runtimes: ProviderRuntime[] = [];
let keyPrefix: string;

function runtime(limits: ProviderRuntimeLimits, options: { redis?: boolean; providerName?: string } = {}): ProviderRuntime {
  const redis = options.redis === false ? undefined : new Redis(redisUrl(0));
  if (redis) redises.push(redis);
  const rt = createProviderRuntime({
    providers: [createOpenAIProvider({ name: options.providerName ?? "openai", baseURL: server.openaiBaseUrl, apiKey: "sk-test" })],
    metrics: createPrometheusMetrics({ processMetrics: false }),
    logger: createLogger({ level: "silent" }),
    defaults: {
      provider: options.providerName ?? "openai",
      model: "gpt-4o-mini",
      maxOutputTokens: 90,
      embeddingModel: "text-embedding-3-small",
    },
    limits: { keyPrefix, windowSeconds: 1, ...limits },
    retry: { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 500, maxRetryAfterMs: 5_000 },
    limitCounters: redis ? createRedisLimitCounters(redis) : createMemoryLimitCounters(),
    ...(redis ? { publishTo: createRedisKv({ client: redis }) } : {}),
  });
  runtimes.push(rt);
  return rt;
}

/** The most requests the server received in any `windowMs` span. */
function busiestWindow(windowMs: number): number {
  const times = server.stats.log.map((r) => r.at).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] ?? 0) - (times[j] ?? 0) >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

beforeAll(async () => {
  server = await startFakeProviderServer();
});
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  for (const r of redises) r.disconnect();
  await server.close();
});
beforeEach(() => {
  server.reset();
  keyPrefix = `test:runtime-limits:${randomUUID()}`;
});

describe("provider runtime: limits", () => {
  it("the fake's limit is real: unthrottled callers get 429s", async () => {
    // A bucket of 10 refilling 10/s: 100 callers draw 429s unless they take over 9 s to arrive
    // (with a bucket of 60 refilling 20/s, a busy machine spread them out enough to draw none).
    server.setLimits({ rpm: 600, burst: 1 / 60 });
    const direct = createOpenAIProvider({ baseURL: server.openaiBaseUrl });
    await Promise.all(
      Array.from({ length: 100 }, () => direct.complete({ model: "gpt-4o-mini", prompt: "x", maxOutputTokens: 5 }).catch(() => undefined)),
    );
    expect(server.stats.limitRejections).toBeGreaterThan(0);
  });

  it("two processes sharing Redis stay under the provider's RPM together, waiting instead of failing", async () => {
    // 1200/min = 20 per 1 s window; the provider allows bursts of 60 and refills 20/s.
    server.setLimits({ rpm: 1200, burst: 0.05 });
    const [a, b] = [runtime({ default: { rpm: 1200 } }), runtime({ default: { rpm: 1200 } })];
    const started = Date.now();
    const calls = Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? a : b).complete({ prompt: `call ${i}` }));
    const results = await Promise.all(calls);
    const elapsed = Date.now() - started;
    expect(results.every((r) => r.text.startsWith("echo: call"))).toBe(true);
    expect(server.stats.limitRejections).toBe(0);
    expect(server.stats.rateLimited).toBe(0);
    // 80 calls at 20 per window: the 4th window starts 3 s in. Two separate budgets would take 1 s.
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    expect(busiestWindow(1_000)).toBeLessThanOrEqual(40);
  });

  it("charges estimated tokens up front and corrects them from the reported usage", async () => {
    // 6000 TPM = 100 tokens per 1 s window. Each call is estimated at 1 + 90 = 91 tokens but uses
    // 3: corrected, four calls fit one window (3 + 3 + 3 + 91 = 100); uncorrected, one would.
    const rt = runtime({ default: { tpm: 6000 } });
    const started = Date.now();
    for (let i = 0; i < 4; i++) await rt.complete({ prompt: "hi" });
    expect(Date.now() - started).toBeLessThan(900);
    expect(server.stats.inputTokens + server.stats.outputTokens).toBe(4 * 3);
    const fifth = Date.now();
    await rt.complete({ prompt: "hi" });
    expect(Date.now() - fifth).toBeGreaterThan(50);
  });

  it("with `reserved` accounting the estimate stands, so each call needs its own window", async () => {
    const rt = runtime({ default: { tpm: 6000, tokenAccounting: "reserved" } });
    const started = Date.now();
    for (let i = 0; i < 3; i++) await rt.complete({ prompt: "hi" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  });

  it("gives up with RATE_LIMITED when capacity is further away than maxWaitMs", async () => {
    const rt = runtime({ default: { rpm: 60 }, maxWaitMs: 200 }, { redis: false });
    await rt.complete({ prompt: "first" });
    const err = await rt.complete({ prompt: "second" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).details).toMatchObject({ scope: "sluice-limit" });
    expect(server.stats.requests).toBe(1);
  });

  it("a provider 429 pauses every process on that route", async () => {
    const [a, b] = [runtime({ default: { rpm: 6000 } }), runtime({ default: { rpm: 6000 } })];
    server.rateLimitNext({ count: 1, retryAfterSeconds: 1 });
    await a.complete({ prompt: "hits the 429" });
    const first429 = server.stats.log.find((r) => r.status === 429)?.at ?? 0;
    await b.complete({ prompt: "other process" });
    const later = server.stats.log.filter((r) => r.at > first429);
    expect(later.length).toBe(2);
    for (const r of later) expect(r.at - first429).toBeGreaterThanOrEqual(990);
  });

  it("publishes the provider's reported remaining requests where runbook 003 reads them", async () => {
    const name = `openai-${randomUUID().slice(0, 8)}`;
    const rt = runtime({}, { providerName: name });
    await rt.complete({ prompt: "hello" });
    const reader = new Redis(redisUrl(0));
    redises.push(reader);
    // Published without holding up the call: read it once it has landed.
    expect(
      await until(
        () => reader.get(rateLimitKey(name)),
        (v) => v !== null,
        10_000,
        "published remaining",
      ),
    ).toBe("9999");
    expect((await rt.health()).rateLimits).toContainEqual(expect.objectContaining({ provider: name, remainingRequests: 9999 }));
  });
});
