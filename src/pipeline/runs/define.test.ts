import { describe, expect, it } from "vitest";
import { z } from "zod";
import { backoffAfter, definePipeline, durationMs, resolveRetryPolicy } from "./define.ts";
import { transitionAllowed } from "./entity-state.ts";
import { NonRetryableError } from "../../core/errors.ts";
import { Invocation, isRetryable, toStepError } from "./invocation.ts";
import type { RunRow } from "./types.ts";
import { eventMatches } from "./views.ts";
import { SluiceError } from "../../core/errors.ts";

describe("pipeline definitions", () => {
  it("reads durations and refuses others", () => {
    expect(durationMs(1500)).toBe(1500);
    expect(durationMs("30s")).toBe(30_000);
    expect(durationMs("2h")).toBe(7_200_000);
    expect(durationMs("1.5m")).toBe(90_000);
    expect(() => durationMs("soon" as never)).toThrow(SluiceError);
    expect(() => durationMs(-1)).toThrow(/0 ms or more/);
  });

  it("retries with exponential backoff, capped, the step's policy over the pipeline's", () => {
    const policy = resolveRetryPolicy({ maxAttempts: 5, backoffMs: 100 }, { backoffMs: 1_000, maxBackoffMs: 3_000 });
    expect(policy).toEqual({ maxAttempts: 5, backoffMs: 1_000, factor: 2, maxBackoffMs: 3_000 });
    expect([1, 2, 3].map((a) => backoffAfter(policy, a))).toEqual([1_000, 2_000, 3_000]);
  });

  it("names pipelines like task types", () => {
    expect(() => definePipeline({ name: "Bad Name", input: z.object({}) }, async () => null)).toThrow(/lower-case/);
  });

  it("allows declared transitions, any first state and staying put", () => {
    const transitions = { new: ["active"], active: ["churned"] };
    expect(transitionAllowed(transitions, null, "active")).toBe(true);
    expect(transitionAllowed(transitions, "new", "active")).toBe(true);
    expect(transitionAllowed(transitions, "active", "active")).toBe(true);
    expect(transitionAllowed(transitions, "active", "new")).toBe(false);
    expect(transitionAllowed(undefined, "active", "new")).toBe(true);
  });

  it("matches events on every field of the match, nested by dot paths", () => {
    expect(eventMatches({ "order.id": "o-1" }, { order: { id: "o-1" }, amount: 3 })).toBe(true);
    expect(eventMatches({ "order.id": "o-1" }, { order: { id: "o-2" } })).toBe(false);
    expect(eventMatches({ tags: ["a"] }, { tags: ["a"] })).toBe(true);
    expect(eventMatches(null, 5)).toBe(true);
  });

  it("tells retryable errors apart and keeps internals out of step errors", () => {
    expect(isRetryable(new Error("boom"))).toBe(true);
    expect(isRetryable(new NonRetryableError("no", "BAD"))).toBe(false);
    expect(isRetryable(new SluiceError("VALIDATION_FAILED"))).toBe(false);
    expect(toStepError(new NonRetryableError("no", "BAD"))).toEqual({ code: "BAD", message: "no" });
    expect(toStepError(new SluiceError("PROVIDER_ERROR", "upstream 10.0.0.5:443 said no")).message).not.toContain("10.0.0.5");
  });

  it("flags a repeated step name and a step whose kind or position changed", () => {
    const run = { id: "r", pipeline: "p", workspace: "w", entity_key: null } as RunRow;
    const recorded = [{ run_id: "r", name: "a", position: 0, kind: "run", status: "completed" } as never];
    const inv = new Invocation(run, recorded);
    expect(inv.enter("a", "run").row).toBeDefined();
    expect(() => inv.enter("a", "run")).toThrow(/used twice/);
    expect(() => new Invocation(run, recorded).enter("a", "sleep")).toThrow(/changed shape/);
    const shifted = new Invocation(run, recorded);
    shifted.enter("b", "run");
    expect(() => shifted.enter("a", "run")).toThrow(/changed shape/);
  });
});
