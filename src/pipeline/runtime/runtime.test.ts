import { createMemoryLimitCounters } from "../../adapters/limits/memory/counters.ts";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../adapters/log/pino.ts";
import { createPrometheusMetrics } from "../../adapters/metrics/prometheus.ts";
import { createProvidersFromConfig } from "../../adapters/provider/from-config.ts";
import { createLocalProvider, LOCAL_COMPLETION_MODEL } from "../../adapters/provider/local/provider.ts";
import { loadConfig } from "../../core/config.ts";
import { runtimeOptionsFromConfig } from "./from-config.ts";
import { windowFor } from "./limiter.ts";
import { backoffDelayMs, retryAfterDelayMs } from "./retry.ts";
import { createProviderRuntime } from "./runtime.ts";

describe("limit windows", () => {
  it("splits a per-minute limit into windows that never add up to more", () => {
    expect(windowFor(600, 10)).toEqual({ points: 100, seconds: 10 });
    expect(windowFor(1000, 10)).toEqual({ points: 166, seconds: 10 });
    expect(windowFor(3, 10)).toEqual({ points: 1, seconds: 20 });
    expect(windowFor(1, 10)).toEqual({ points: 1, seconds: 60 });
    for (const perMinute of [1, 3, 7, 59, 61, 600, 12345]) {
      const { points, seconds } = windowFor(perMinute, 10);
      expect((points * 60) / seconds).toBeLessThanOrEqual(perMinute);
    }
  });
});

describe("retry delays", () => {
  it("back off exponentially with full jitter, capped", () => {
    const options = { baseDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelayMs(1, options, () => 0)).toBe(0);
    expect(backoffDelayMs(1, options, () => 0.999)).toBe(99);
    expect(backoffDelayMs(3, options, () => 0.999)).toBe(399);
    expect(backoffDelayMs(10, options, () => 0.999)).toBe(999);
  });

  it("wait at least the provider's Retry-After, plus a little spread", () => {
    expect(retryAfterDelayMs(1_000, () => 0)).toBe(1_000);
    expect(retryAfterDelayMs(1_000, () => 0.999)).toBe(1_099);
    expect(retryAfterDelayMs(10_000, () => 0.999)).toBe(10_249);
  });
});

describe("provider runtime on the local provider", () => {
  const runtime = () =>
    createProviderRuntime({
      limitCounters: createMemoryLimitCounters(),
      providers: [createLocalProvider({ dimensions: 32 })],
      metrics: createPrometheusMetrics({ processMetrics: false }),
      logger: createLogger({ level: "silent" }),
      defaults: { provider: "local", model: "local", maxOutputTokens: 3, embeddingModel: "local" },
    });

  it("fills in the defaults and marks the result as served by the requested route", async () => {
    const result = await runtime().complete({ prompt: "a long prompt that will be cut short" });
    // The local provider answers with its own model whatever the request named.
    expect(result).toMatchObject({
      fallback: false,
      servedBy: { provider: "local", model: LOCAL_COMPLETION_MODEL },
      model: LOCAL_COMPLETION_MODEL,
      attempts: 1,
      finishReason: "length",
    });
    expect(result.text.length).toBeLessThanOrEqual(12);
  });

  it("embeds with the provider's default dimension", async () => {
    const result = await runtime().embed({ inputs: ["a", "b"] });
    expect(result.vectors.map((v) => v.length)).toEqual([32, 32]);
  });

  it("reports health from breakers alone unless asked to probe", async () => {
    const rt = runtime();
    expect(await rt.health()).toMatchObject({
      available: true,
      primary: { provider: "local", model: LOCAL_COMPLETION_MODEL },
      lastError: null,
    });
    expect((await rt.health({ probe: true })).probes).toEqual([expect.objectContaining({ provider: "local", ok: true })]);
  });
});

describe("runtime options from the environment", () => {
  it("maps fallbacks, limits, retries and breaker settings", async () => {
    const config = loadConfig({
      AI_PROVIDER: "openai",
      OPENAI_API_KEY: "sk-x",
      AI_FALLBACK_PROVIDER: "local",
      AI_RPM_LIMIT: "500",
      AI_TPM_LIMIT: "200000",
      AI_ROUTE_LIMITS: "openai/gpt-4o=100:50000",
      AI_MAX_ATTEMPTS: "6",
      AI_BREAKER_THRESHOLD: "3",
      AI_BREAKER_HALF_OPEN_AFTER_MS: "1000",
    });
    const options = runtimeOptionsFromConfig(config);
    expect(options.fallbacks).toEqual([{ provider: "local", model: "local" }]);
    expect(options.limits).toMatchObject({ default: { rpm: 500, tpm: 200_000 }, routes: { "openai/gpt-4o": { rpm: 100, tpm: 50_000 } } });
    expect(options.retry).toMatchObject({ maxAttempts: 6 });
    expect(options.breaker).toEqual({ threshold: 3, halfOpenAfterMs: 1000 });
    expect(options.defaults).toMatchObject({ provider: "openai", embeddingProvider: "openai" });
    expect((await createProvidersFromConfig(config)).map((p) => p.name)).toEqual(["local", "openai"]);
  });

  it("sends Anthropic deployments' embeddings to local when OpenAI is not configured", () => {
    const config = loadConfig({ AI_PROVIDER: "anthropic", ANTHROPIC_API_KEY: "k" });
    expect(config.ai.embeddingProvider).toBe("local");
    expect(() => loadConfig({ AI_FALLBACK_PROVIDER: "anthropic" })).toThrow(/AI_FALLBACK_PROVIDER/);
    expect(() => loadConfig({ AI_ROUTE_LIMITS: "gpt-4o=1:2" })).toThrow(/AI_ROUTE_LIMITS/);
  });
});
