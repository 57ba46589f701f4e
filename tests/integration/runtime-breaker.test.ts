import { createMemoryLimitCounters } from "../../src/adapters/limits/memory/counters.ts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../src/adapters/metrics/prometheus.ts";
import { createLocalProvider, LOCAL_COMPLETION_MODEL } from "../../src/adapters/provider/local/provider.ts";
import { classifySentiment } from "../../src/adapters/provider/local/rules.ts";
import { createOpenAIProvider } from "../../src/adapters/provider/openai/provider.ts";
import { RetryLaterError, SluiceError } from "../../src/core/errors.ts";
import {
  createLlmHealthCheck,
  createProviderRuntime,
  type ProviderRuntime,
  type ProviderRuntimeOptions,
} from "../../src/pipeline/runtime/index.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { sampleValue } from "../harness/metrics.ts";

/** Outage and recovery against the fake provider: the breaker opens, fallbacks answer marked, it closes again. */

let server: FakeProviderServer;
let metrics: PrometheusMetrics;
const PRIMARY = { provider: "openai", model: "gpt-4o-mini" };
// The fallback route names model "local"; the local provider reports the model that answers.
const LOCAL = { provider: "local", model: LOCAL_COMPLETION_MODEL };

function runtime(overrides: Partial<ProviderRuntimeOptions> = {}): ProviderRuntime {
  return createProviderRuntime({
    limitCounters: createMemoryLimitCounters(),
    providers: [createOpenAIProvider({ baseURL: server.openaiBaseUrl, apiKey: "sk-test", timeoutMs: 5_000 }), createLocalProvider()],
    metrics,
    logger: createLogger({ level: "silent" }),
    defaults: { ...PRIMARY, maxOutputTokens: 50, embeddingModel: "text-embedding-3-small" },
    retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 5_000 },
    breaker: { threshold: 3, halfOpenAfterMs: 400 },
    timeoutMs: 2_000,
    ...overrides,
  });
}

const metricLine = async (name: string, labels: string): Promise<number | undefined> => sampleValue(await metrics.render(), name, labels);

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

describe("provider runtime: circuit breaker and fallbacks", () => {
  it("opens on an outage, serves marked fallbacks without calling the provider, and closes after recovery", async () => {
    const rt = runtime({ fallbacks: [LOCAL] });
    server.setOutage(true);

    const first = await rt.complete({ prompt: "Summarize:\n\nQueues hold jobs. Workers run jobs." });
    expect(first).toMatchObject({ fallback: true, servedBy: LOCAL, requested: PRIMARY, provider: "local", attempts: 3 }); // 2 on openai, 1 on local
    const second = await rt.complete({ prompt: "still down" });
    expect(second.fallback).toBe(true);
    expect(rt.breakers()).toContainEqual({ ...PRIMARY, state: "open" });
    expect(await metricLine("ai_provider_breaker_state", 'model="gpt-4o-mini"')).toBe(1);

    const health = await rt.health();
    expect(health.available).toBe(true); // the local fallback can serve
    expect(health.lastError).toMatchObject({ code: "PROVIDER_ERROR", provider: "openai" });

    const before = server.stats.requests;
    const third = await rt.complete({ prompt: "short-circuited" });
    expect(third).toMatchObject({ fallback: true, servedBy: LOCAL, attempts: 1 }); // local only
    expect(server.stats.requests).toBe(before);
    expect(await metricLine("ai_provider_requests_total", 'outcome="short_circuited"')).toBeGreaterThanOrEqual(1);

    server.setOutage(false);
    await new Promise((r) => setTimeout(r, 450));
    const recovered = await rt.complete({ prompt: "back" });
    expect(recovered).toMatchObject({ text: "echo: back", fallback: false, servedBy: PRIMARY });
    expect(rt.breakers()).toContainEqual({ ...PRIMARY, state: "closed" });
    expect(await metricLine("ai_provider_breaker_state", 'model="gpt-4o-mini"')).toBe(0);
    expect(await metricLine("ai_provider_fallbacks_total", `served_by="local/${LOCAL_COMPLETION_MODEL}"`)).toBe(3);
  });

  it("reopens when the half-open trial fails", async () => {
    const rt = runtime({ fallbacks: [LOCAL], retry: { maxAttempts: 1 } });
    server.setOutage(true);
    for (let i = 0; i < 3; i++) await rt.complete({ prompt: "down" });
    expect(rt.breakers()).toContainEqual({ ...PRIMARY, state: "open" });
    const before = server.stats.requests;
    expect((await rt.complete({ prompt: "refused" })).fallback).toBe(true);
    expect(server.stats.requests).toBe(before);
    await new Promise((r) => setTimeout(r, 450));
    const trial = await rt.complete({ prompt: "trial" });
    expect(trial.fallback).toBe(true);
    expect(server.stats.requests).toBe(before + 1);
    expect(rt.breakers()).toContainEqual({ ...PRIMARY, state: "open" });
  });

  it("ends the chain with the task's rule-based fallback, marked as such", async () => {
    server.setOutage(true);
    const rt = runtime();
    const result = await rt.complete(
      { prompt: "Classify the sentiment:\n\nGreat service, thank you" },
      { ruleFallback: (request) => classifySentiment(request.prompt ?? "").label, task: "classify" },
    );
    expect(result).toMatchObject({ text: "positive", fallback: true, servedBy: { provider: "rule", model: "rule" }, attempts: 2 });
  });

  it("without any fallback fails PROVIDER_UNAVAILABLE (retryable) only after the attempts", async () => {
    server.setOutage(true);
    const err = await runtime({ retry: { maxAttempts: 3 }, breaker: { threshold: 10 } })
      .complete({ prompt: "x" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe("PROVIDER_UNAVAILABLE");
    expect((err as SluiceError).retryable).toBe(true);
    expect(server.stats.requests).toBe(3);
  });

  it("without any fallback, a refusal says when to come back; attempts spent on errors do not, unless they left the breaker open", async () => {
    server.setOutage(true);
    const rt = runtime({ retry: { maxAttempts: 2 }, breaker: { threshold: 4, halfOpenAfterMs: 3_000 } });
    const failed = await rt.complete({ prompt: "x" }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SluiceError);
    expect(failed).not.toBeInstanceOf(RetryLaterError); // its 2 calls failed, the breaker still closed: a real attempt for the queue
    // Its 2 calls fail too, and the second is the 4th failure in a row: the breaker is open once its
    // attempts are spent, so the outage is the provider's and the caller waits for it.
    const opening = await rt.complete({ prompt: "x" }).catch((e: unknown) => e);
    expect(opening).toBeInstanceOf(RetryLaterError);
    expect(opening).toMatchObject({ code: "PROVIDER_UNAVAILABLE", retryable: true });
    const refused = await rt.complete({ prompt: "x" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RetryLaterError);
    expect(refused).toMatchObject({ code: "PROVIDER_UNAVAILABLE", retryable: true });
    expect((refused as RetryLaterError).retryAfterMs).toBeGreaterThan(2_500); // until the half-open trial
    expect((refused as RetryLaterError).retryAfterMs).toBeLessThanOrEqual(3_000);
    expect(server.stats.requests).toBe(4);

    rt.isolate({ provider: "openai" });
    const isolated = await rt.complete({ prompt: "x" }).catch((e: unknown) => e);
    expect(isolated).toMatchObject({ code: "PROVIDER_UNAVAILABLE", retryAfterMs: 15_000 }); // the kill-switch recheck
  });

  it("isolate() sends calls to the fallback at once; release() brings them back", async () => {
    const rt = runtime({ fallbacks: [LOCAL] });
    rt.isolate({ provider: "openai" });
    const isolated = await rt.complete({ prompt: "hi" });
    expect(isolated).toMatchObject({ fallback: true, servedBy: LOCAL });
    expect(server.stats.requests).toBe(0);
    expect((await rt.health()).breakers).toContainEqual({ ...PRIMARY, state: "isolated" });
    rt.release({ provider: "openai" });
    expect(await rt.complete({ prompt: "hi" })).toMatchObject({ fallback: false, servedBy: PRIMARY });
  });

  it("/health/llm reports available, breakers and provider probes", async () => {
    const rt = runtime();
    const check = createLlmHealthCheck(rt);
    expect(await check.run()).toMatchObject({ ok: true, available: true, breakers: [{ ...PRIMARY, state: "closed" }] });
    server.setOutage(true);
    const down = await check.run();
    expect(down).toMatchObject({ ok: false, available: false });
    expect(down.providers).toContainEqual(expect.objectContaining({ provider: "openai", ok: false }));
    expect(check.required).toBe(false);
  });
});
