import { describe, expect, it } from "vitest";
import { RateLimitedError, SluiceError } from "../../core/errors.ts";
import { parseDurationMs, parseRetryAfterHeader, readRateLimitInfo, retryAfterMsFromHeaders, translateHttpFailure } from "./http-errors.ts";

const headers = (values: Record<string, string>) => new Headers(values);
const NOW = Date.parse("2026-01-19T10:00:00Z");

describe("provider rate-limit headers", () => {
  it("parses OpenAI's reset durations", () => {
    expect(parseDurationMs("1s")).toBe(1000);
    expect(parseDurationMs("6m0s")).toBe(360_000);
    expect(parseDurationMs("20ms")).toBe(20);
    expect(parseDurationMs("1h2m3.5s")).toBe(3_723_500);
    expect(parseDurationMs("0.25")).toBe(250);
    expect(parseDurationMs("soon")).toBeUndefined();
    expect(parseDurationMs("5x")).toBeUndefined();
    expect(parseDurationMs("")).toBeUndefined();
  });

  it("parses Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfterHeader("3", NOW)).toBe(3000);
    expect(parseRetryAfterHeader(new Date(NOW + 7000).toUTCString(), NOW)).toBe(7000);
    expect(parseRetryAfterHeader(new Date(NOW - 7000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfterHeader("garbage", NOW)).toBeUndefined();
  });

  it("prefers retry-after-ms, then Retry-After, then the exhausted budget's reset", () => {
    expect(retryAfterMsFromHeaders(headers({ "retry-after-ms": "1500", "retry-after": "9" }), NOW)).toBe(1500);
    expect(retryAfterMsFromHeaders(headers({ "retry-after": "2", "x-ratelimit-reset-requests": "6m0s" }), NOW)).toBe(2000);
    const tokensSpent = {
      "x-ratelimit-remaining-requests": "5",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-reset-tokens": "20ms",
    };
    expect(retryAfterMsFromHeaders(headers(tokensSpent), NOW)).toBe(20);
    expect(retryAfterMsFromHeaders(headers({ "x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s" }), NOW)).toBe(360_000);
    expect(retryAfterMsFromHeaders(headers({}), NOW)).toBeUndefined();
  });

  it("reads Anthropic's RFC 3339 resets and remaining budgets", () => {
    const info = readRateLimitInfo(
      headers({
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": new Date(NOW + 4000).toISOString(),
        "anthropic-ratelimit-tokens-remaining": "1200",
      }),
      NOW,
    );
    expect(info).toEqual({ remainingRequests: 0, remainingTokens: 1200, resetRequestsMs: 4000 });
  });
});

describe("translateHttpFailure", () => {
  const failure = (status: number, h: Record<string, string> = {}) =>
    translateHttpFailure({ provider: "openai", model: "m", status, headers: headers(h), message: "nope", cause: undefined }, NOW);

  it("makes a 429 a RateLimitedError carrying the wait", () => {
    const err = failure(429, { "retry-after": "4" });
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(4000);
    expect(err.retryable).toBe(true);
    expect((failure(429) as RateLimitedError).retryAfterMs).toBe(1000);
  });

  it.each([
    [500, "PROVIDER_ERROR", true],
    [502, "PROVIDER_ERROR", true],
    [503, "PROVIDER_ERROR", true],
    [529, "PROVIDER_ERROR", true],
    [408, "PROVIDER_ERROR", true],
    [400, "PROVIDER_BAD_REQUEST", false],
    [404, "PROVIDER_BAD_REQUEST", false],
    [422, "PROVIDER_BAD_REQUEST", false],
    [401, "PROVIDER_AUTH", false],
    [403, "PROVIDER_AUTH", false],
  ])("maps %i to %s (retryable %s)", (status, code, retryable) => {
    const err = failure(status);
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(err.message).toContain(String(status));
  });
});
