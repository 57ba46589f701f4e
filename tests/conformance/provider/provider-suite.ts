import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimitedError, SluiceError } from "../../../src/core/errors.ts";
import type { Provider } from "../../../src/ports/provider.ts";
import type { FakeProviderServer } from "../../fakes/openai-server.ts";

/** What an adapter cannot do, listed so the suite checks the failure instead of the feature. */
type ProviderGap = "embed";

export interface ProviderTarget {
  name: string;
  /** Builds the adapter; `timeoutMs` is the adapter's own request timeout. */
  open(options: { timeoutMs?: number }): Promise<{ provider: Provider; cleanup?: () => Promise<void> }>;
  /** The fake server behind a remote adapter, for the error-translation tests. */
  server?: () => FakeProviderServer;
  gaps: readonly ProviderGap[];
  /** Model names to use. */
  chatModel: string;
  embeddingModel: string;
}

const finiteVector = (v: readonly number[]) => v.every((x) => Number.isFinite(x));

/** The Provider port's conformance suite: every adapter runs these same tests. */
export function providerConformance(target: ProviderTarget): void {
  describe(`Provider conformance: ${target.name}`, () => {
    let provider: Provider;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      ({ provider, cleanup } = await target.open({}));
    });
    afterAll(async () => {
      await provider.close();
      await cleanup?.();
    });

    it("completes a prompt with text, usage, model and provider name", async () => {
      const result = await provider.complete({ model: target.chatModel, prompt: "Say hello to the operators", maxOutputTokens: 50 });
      expect(result.text.length).toBeGreaterThan(0);
      expect(result.provider).toBe(provider.name);
      expect(result.model.length).toBeGreaterThan(0);
      expect(Number.isInteger(result.usage.inputTokens) && result.usage.inputTokens > 0).toBe(true);
      expect(Number.isInteger(result.usage.outputTokens) && result.usage.outputTokens > 0).toBe(true);
    });

    it("takes a conversation with a system message", async () => {
      const result = await provider.complete({
        model: target.chatModel,
        messages: [
          { role: "system", content: "You answer briefly." },
          { role: "user", content: "First question" },
          { role: "assistant", content: "First answer" },
          { role: "user", content: "Second question about queues" },
        ],
        maxOutputTokens: 60,
      });
      expect(result.text.length).toBeGreaterThan(0);
      expect(result.usage.inputTokens).toBeGreaterThan(5);
    });

    it("keeps output within maxOutputTokens", async () => {
      const result = await provider.complete({ model: target.chatModel, prompt: "word ".repeat(200), maxOutputTokens: 5 });
      expect(result.usage.outputTokens).toBeLessThanOrEqual(5);
      expect(result.text.length).toBeLessThanOrEqual(5 * 4);
    });

    it("streams: the pieces add up to the same text and usage as without streaming", async () => {
      const request = { model: target.chatModel, prompt: "Stream this sentence back in pieces please", maxOutputTokens: 80 };
      const plain = await provider.complete(request);
      const pieces: string[] = [];
      const streamed = await provider.complete({ ...request, onText: (d) => pieces.push(d) });
      expect(provider.capabilities.stream).toBe(true);
      expect(pieces.length).toBeGreaterThan(1);
      expect(pieces.join("")).toBe(streamed.text);
      expect(streamed.text).toBe(plain.text);
      expect(streamed.usage).toEqual(plain.usage);
    });

    it("rejects an already aborted call with a Sluice error", async () => {
      const controller = new AbortController();
      controller.abort();
      await expect(
        provider.complete({ model: target.chatModel, prompt: "x", maxOutputTokens: 5, signal: controller.signal }),
      ).rejects.toBeInstanceOf(SluiceError);
    });

    it("reports health", async () => {
      const health = await provider.health();
      expect(health.ok).toBe(true);
      expect(health.latencyMs).toBeGreaterThanOrEqual(0);
    });

    if (target.gaps.includes("embed")) {
      it("GAP embed: says PROVIDER_UNSUPPORTED, not retryable", async () => {
        expect(provider.capabilities.embed).toBe(false);
        const err: unknown = await provider.embed({ model: target.embeddingModel, inputs: ["a"] }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SluiceError);
        expect((err as SluiceError).code).toBe("PROVIDER_UNSUPPORTED");
        expect((err as SluiceError).retryable).toBe(false);
      });
    } else {
      it("embeds inputs in order, one finite vector of the asked dimension each, deterministically", async () => {
        const inputs = ["the first text", "a second, different text", "the first text"];
        const result = await provider.embed({ model: target.embeddingModel, inputs, dimensions: 64 });
        expect(provider.capabilities.embed).toBe(true);
        expect(result.vectors).toHaveLength(3);
        for (const v of result.vectors) {
          expect(v).toHaveLength(64);
          expect(finiteVector(v)).toBe(true);
        }
        expect(result.vectors[2]).toEqual(result.vectors[0]);
        expect(result.vectors[1]).not.toEqual(result.vectors[0]);
        expect(result.usage.inputTokens).toBeGreaterThan(0);
        expect(result.usage.outputTokens).toBe(0);
        expect(result.provider).toBe(provider.name);
      });

      it("embeds nothing without calling out", async () => {
        const result = await provider.embed({ model: target.embeddingModel, inputs: [] });
        expect(result.vectors).toEqual([]);
      });
    }

    if (target.server) errorTranslation(target, () => provider);
  });
}

/** Remote adapters: each provider answer becomes the right typed error. */
function errorTranslation(target: ProviderTarget, getProvider: () => Provider): void {
  describe("error translation", () => {
    const server = () => target.server?.() as FakeProviderServer;
    const call = () =>
      getProvider()
        .complete({ model: target.chatModel, prompt: "hello", maxOutputTokens: 5 })
        .catch((e: unknown) => e);

    it("429 -> RateLimitedError with Retry-After as retryAfterMs", async () => {
      server().rateLimitNext({ count: 1, retryAfterSeconds: 7 });
      const err = await call();
      expect(err).toBeInstanceOf(RateLimitedError);
      expect((err as RateLimitedError).retryAfterMs).toBe(7000);
      expect((err as RateLimitedError).retryable).toBe(true);
    });

    it("429 with Retry-After as an HTTP date", async () => {
      server().rateLimitNext({ count: 1, retryAfterSeconds: 30, asHttpDate: true });
      const err = (await call()) as RateLimitedError;
      expect(err.retryAfterMs).toBeGreaterThan(27_000);
      expect(err.retryAfterMs).toBeLessThanOrEqual(30_000);
    });

    it.each([
      [500, "PROVIDER_ERROR", true],
      [503, "PROVIDER_ERROR", true],
      [400, "PROVIDER_BAD_REQUEST", false],
      [404, "PROVIDER_BAD_REQUEST", false],
      [401, "PROVIDER_AUTH", false],
    ])("%i -> %s (retryable %s)", async (status, code, retryable) => {
      server().failNext(1, status);
      const err = (await call()) as SluiceError;
      expect(err).toBeInstanceOf(SluiceError);
      expect(err.code).toBe(code);
      expect(err.retryable).toBe(retryable);
    });

    it("a dropped connection -> PROVIDER_ERROR, retryable", async () => {
      server().setOutage(true, { mode: "reset" });
      try {
        const err = (await call()) as SluiceError;
        expect(err.code).toBe("PROVIDER_ERROR");
        expect(err.retryable).toBe(true);
      } finally {
        server().setOutage(false);
      }
    });

    it("no answer within the adapter's timeout -> PROVIDER_TIMEOUT, retryable", async () => {
      const { provider: quick } = await target.open({ timeoutMs: 200 });
      server().hangNext(1);
      const err = (await quick
        .complete({ model: target.chatModel, prompt: "hello", maxOutputTokens: 5 })
        .catch((e: unknown) => e)) as SluiceError;
      expect(err.code).toBe("PROVIDER_TIMEOUT");
      expect(err.retryable).toBe(true);
    });

    it("health says not ok during an outage, with the error code", async () => {
      server().setOutage(true);
      try {
        const health = await getProvider().health();
        expect(health.ok).toBe(false);
        expect(health.detail).toContain("PROVIDER_ERROR");
      } finally {
        server().setOutage(false);
      }
    });
  });
}
