import { describe, expect, it } from "vitest";
import { RateLimitedError, RetryLaterError, SluiceError } from "../../core/errors.ts";
import { deferralOf, dependencyRetryMs, waitingSince } from "./deferral.ts";

describe("which errors delay a job instead of spending an attempt", () => {
  it("defers what says when to come back; only the operators' holds are unbounded", () => {
    expect(deferralOf(new RetryLaterError("TASK_DISABLED", 15_000), 0)).toMatchObject({
      code: "TASK_DISABLED",
      delayMs: 15_000,
      bounded: false,
    });
    expect(deferralOf(new RetryLaterError("BUDGET_EXHAUSTED", 60_000), 0)).toMatchObject({ bounded: false });
    expect(deferralOf(new RetryLaterError("PROVIDER_UNAVAILABLE", 29_000), 0)).toMatchObject({
      code: "PROVIDER_UNAVAILABLE",
      delayMs: 29_000,
      bounded: true,
    });
    expect(deferralOf(new RateLimitedError(120_000), 0)).toMatchObject({ code: "RATE_LIMITED", delayMs: 120_000, bounded: true });
  });

  it("defers an unavailable dependency, looking again less often the longer it lasts", () => {
    expect(deferralOf(new SluiceError("DEPENDENCY_UNAVAILABLE", "Database unavailable"), 0)).toMatchObject({
      delayMs: 1_000,
      bounded: true,
    });
    expect(deferralOf(new SluiceError("DEPENDENCY_UNAVAILABLE"), 8_000)?.delayMs).toBe(8_000);
    expect(dependencyRetryMs(10 * 60_000)).toBe(30_000);
  });

  it("leaves the job's own failures to the queue's attempts", () => {
    expect(deferralOf(new SluiceError("PROVIDER_UNAVAILABLE", "attempts spent"), 0)).toBeUndefined();
    expect(deferralOf(new SluiceError("PROVIDER_BAD_REQUEST"), 0)).toBeUndefined();
    expect(deferralOf(new Error("boom"), 0)).toBeUndefined();
  });

  it("reads when the job began waiting from its data", () => {
    expect(waitingSince({ data: { workspace: "w", waiting_since: 1_700_000_000_000 } })).toBe(1_700_000_000_000);
    expect(waitingSince({ data: { workspace: "w" } })).toBeUndefined();
  });
});
