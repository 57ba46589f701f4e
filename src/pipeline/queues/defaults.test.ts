import { describe, expect, it } from "vitest";
import { queueDefaultsFromConfig, queueJobDefaults, resolveQueueDefaults, toBullJobOptions } from "./defaults.ts";

describe("queue defaults", () => {
  it("default to 3 attempts, jittered exponential backoff and bounded retention", () => {
    expect(queueJobDefaults(resolveQueueDefaults())).toEqual({
      attempts: 3,
      backoff: { type: "exponential", delay: 1000, jitter: 0.5 },
      removeOnComplete: { age: 86_400, count: 1_000 },
      removeOnFail: { age: 604_800, count: 10_000 },
    });
  });

  it("let a queue override the manager's defaults", () => {
    const defaults = resolveQueueDefaults({ attempts: 5 });
    expect(queueJobDefaults(defaults, { defaultJobOptions: { backoff: 250, removeOnComplete: true } })).toMatchObject({
      attempts: 5,
      backoff: { type: "fixed", delay: 250 },
      removeOnComplete: true,
    });
  });

  it("take worker settings from the configuration", () => {
    const resolved = resolveQueueDefaults(queueDefaultsFromConfig({ concurrency: 50, lockDurationMs: 2000, stalledIntervalMs: 1000 }));
    expect(resolved).toMatchObject({ concurrency: 50, lockDuration: 2000, stalledInterval: 1000, maxStalledCount: 1 });
  });

  it("map only the options given", () => {
    expect(toBullJobOptions({})).toEqual({});
    expect(toBullJobOptions({ priority: 0, delay: 0 })).toEqual({});
    expect(toBullJobOptions({ priority: 2, delay: 1500.4, attempts: 1, jobId: "req-1" })).toEqual({
      priority: 2,
      delay: 1500,
      attempts: 1,
      jobId: "req-1",
    });
  });

  it.each([
    [{ priority: 1.5 }],
    [{ priority: 3_000_000 }],
    [{ delay: Number.NaN }],
    [{ attempts: 0 }],
    [{ backoff: -1 }],
    [{ backoff: { type: "exponential" as const, delay: 10, jitter: 2 } }],
    [{ jobId: "42" }],
    [{ jobId: "a:b" }],
    [{ jobId: "" }],
  ])("refuse %j with VALIDATION_FAILED", (opts) => {
    expect(() => toBullJobOptions(opts)).toThrow(expect.objectContaining({ code: "VALIDATION_FAILED" }));
  });
});
