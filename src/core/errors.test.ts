import { describe, expect, it } from "vitest";
import { ERROR_CATALOGUE, RateLimitedError, SluiceError } from "./errors.ts";

describe("error catalogue", () => {
  it("gives every code a 4xx or 5xx status and a message", () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) {
      expect(entry.status, code).toBeGreaterThanOrEqual(400);
      expect(entry.status, code).toBeLessThan(600);
      expect(entry.message.length, code).toBeGreaterThan(0);
    }
  });

  it("has codes in SCREAMING_SNAKE_CASE, each once", () => {
    const codes = Object.keys(ERROR_CATALOGUE);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it("serialises to the API error shape with status from the catalogue", () => {
    const err = new SluiceError("QUEUE_NOT_FOUND", "No queue named x", { details: { queue: "x" } });
    expect(err.status).toBe(404);
    expect(err.toJSON()).toEqual({ error: { code: "QUEUE_NOT_FOUND", message: "No queue named x", details: { queue: "x" } } });
  });

  it("carries retry-after data on rate-limit errors", () => {
    const err = new RateLimitedError(1500);
    expect(err.status).toBe(429);
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(1500);
  });
});
