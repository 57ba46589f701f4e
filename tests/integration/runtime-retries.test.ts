import { createMemoryLimitCounters } from "../../src/adapters/limits/memory/counters.ts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/adapters/metrics/prometheus.ts";
import { createAnthropicProvider } from "../../src/adapters/provider/anthropic/provider.ts";
import { createOpenAIProvider } from "../../src/adapters/provider/openai/provider.ts";
import { RateLimitedError, SluiceError } from "../../src/core/errors.ts";
import { createProviderRuntime, type ProviderRuntime, type ProviderRuntimeOptions } from "../../src/pipeline/runtime/index.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { sampleValue } from "../harness/metrics.ts";

/** Retries against the fake provider: 429 storms, 5xx bursts, hangs, and what is never retried. */

let server: FakeProviderServer;
let metrics: PrometheusMetrics;

function runtime(overrides: Partial<ProviderRuntimeOptions> = {}): ProviderRuntime {
  return createProviderRuntime({
    limitCounters: createMemoryLimitCounters(),
    providers: [
      createOpenAIProvider({ baseURL: server.openaiBaseUrl, apiKey: "sk-test", timeoutMs: 10_000 }),
      createAnthropicProvider({ baseURL: server.anthropicBaseUrl, apiKey: "sk-ant-test", timeoutMs: 10_000 }),
    ],
    metrics,
    logger: createLogger({ level: "silent" }),
    defaults: { provider: "openai", model: "gpt-4o-mini", maxOutputTokens: 50, embeddingModel: "text-embedding-3-small" },
    retry: { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 5_000 },
    breaker: { threshold: 50, halfOpenAfterMs: 1_000 },
    timeoutMs: 2_000,
    ...overrides,
  });
}

/** Milliseconds between consecutive requests the server received. */
const gaps = (): number[] => server.stats.log.slice(1).map((r, i) => r.at - (server.stats.log[i]?.at ?? 0));

const metricValue = async (name: string, labels: string): Promise<number> => sampleValue(await metrics.render(), name, labels) ?? 0;

beforeAll(async () => {
  server = await startFakeProviderServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
  metrics = createPrometheusMetrics({ processMetrics: false });
});

describe("provider runtime: retries", () => {
  it("rides out a 429 storm, waiting each Retry-After before calling again", async () => {
    server.rateLimitNext({ count: 2, retryAfterSeconds: 1 });
    const result = await runtime().complete({ prompt: "hello" });
    expect(result).toMatchObject({
      text: "echo: hello",
      attempts: 3,
      fallback: false,
      servedBy: { provider: "openai", model: "gpt-4o-mini" },
    });
    expect(server.stats.byStatus).toMatchObject({ 429: 2, 200: 1 });
    for (const gap of gaps()) expect(gap).toBeGreaterThanOrEqual(990);
    expect(await metricValue("ai_provider_requests_total", 'outcome="rate_limited"')).toBe(2);
  });

  it("honours x-ratelimit-reset-* when there is no Retry-After", async () => {
    server.rateLimitNext({ count: 2, resetRequests: "400ms", resetTokens: "1s", exhausted: "requests" });
    const result = await runtime().complete({ prompt: "reset headers" });
    expect(result.attempts).toBe(3);
    for (const gap of gaps()) {
      expect(gap).toBeGreaterThanOrEqual(390);
      expect(gap).toBeLessThan(900);
    }
  });

  it("fails with RATE_LIMITED only once every attempt is spent", async () => {
    server.rateLimitNext({ count: 10, retryAfterMs: 50 });
    const err = await runtime()
      .complete({ prompt: "storm" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(50);
    expect(server.stats.requests).toBe(4);
  });

  it("does not wait in-process for a Retry-After beyond maxRetryAfterMs", async () => {
    server.rateLimitNext({ count: 1, retryAfterSeconds: 120 });
    const started = Date.now();
    const err = await runtime()
      .complete({ prompt: "long wait" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(120_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(server.stats.requests).toBe(1);
  });

  it("retries a 5xx burst with backoff and succeeds", async () => {
    server.failNext(3, 503);
    const result = await runtime().complete({ prompt: "burst" });
    expect(result.attempts).toBe(4);
    expect(server.stats.byStatus).toMatchObject({ 503: 3, 200: 1 });
    expect(await metricValue("ai_provider_requests_total", 'outcome="error"')).toBe(3);
    expect(await metricValue("ai_provider_retries_total", 'provider="openai"')).toBe(3);
  });

  it("times out a hung call and retries it", async () => {
    server.hangNext(1);
    const started = Date.now();
    const result = await runtime({ timeoutMs: 300 }).complete({ prompt: "hang" });
    expect(result.attempts).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await metricValue("ai_provider_requests_total", 'outcome="timeout"')).toBe(1);
  });

  it("stops at once, without retrying, when the caller aborts", async () => {
    server.hangNext(1);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("job cancelled")), 100);
    const started = Date.now();
    const err = await runtime()
      .complete({ prompt: "cancel me", signal: controller.signal })
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe("job cancelled");
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(server.stats.requests).toBe(1);
    expect(await metricValue("ai_provider_requests_total", 'outcome="aborted"')).toBe(1);
  });

  it("times out a stream that is too slow", async () => {
    server.setStreamChunkDelay(100);
    const pieces: string[] = [];
    const err = await runtime({ timeoutMs: 250, retry: { maxAttempts: 1 } })
      .complete({ prompt: "one two three four five six seven", onText: (d) => pieces.push(d) })
      .catch((e: unknown) => e);
    expect((err as SluiceError).code).toBe("PROVIDER_UNAVAILABLE");
    expect((err as SluiceError).details).toMatchObject({ failures: [expect.stringContaining("did not answer within 250 ms")] });
    expect(pieces.length).toBeLessThan(8);
  });

  it("streams through the runtime when the stream keeps up", async () => {
    server.setStreamChunkDelay(5);
    const pieces: string[] = [];
    const result = await runtime().complete({ prompt: "slow but fine", onText: (d) => pieces.push(d) });
    expect(pieces.join("")).toBe("echo: slow but fine");
    expect(result.text).toBe("echo: slow but fine");
  });

  it.each([400, 401, 404, 422])("never retries a %i, even with a fallback configured", async (status) => {
    server.failNext(1, status);
    const err = await runtime({ fallbacks: [{ provider: "anthropic", model: "claude-3-5-haiku-latest" }] })
      .complete({ prompt: "bad" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).retryable).toBe(false);
    expect(server.stats.requests).toBe(1);
  });

  it("applies the same protections to Anthropic and to embeddings", async () => {
    const rt = runtime();
    server.rateLimitNext({ count: 1, retryAfterMs: 100 });
    server.failNext(1, 529);
    const message = await rt.complete({ provider: "anthropic", model: "claude-3-5-haiku-latest", prompt: "hi" });
    expect(message).toMatchObject({ text: "echo: hi", attempts: 3, provider: "anthropic" });
    server.failNext(2, 500);
    const embedded = await rt.embed({ inputs: ["a", "b"], dimensions: 16 });
    expect(embedded.vectors).toHaveLength(2);
    expect(embedded.attempts).toBe(3);
  });

  it("says PROVIDER_NOT_CONFIGURED for an unknown provider", async () => {
    const err = await runtime()
      .complete({ provider: "nope", prompt: "x" })
      .catch((e: unknown) => e);
    expect((err as SluiceError).code).toBe("PROVIDER_NOT_CONFIGURED");
  });
});
