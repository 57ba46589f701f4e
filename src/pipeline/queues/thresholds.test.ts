import { describe, expect, it } from "vitest";
import { levelOf, withThresholds } from "./thresholds.ts";

const listing = { name: "churn", waiting: 120, active: 0, completed: 0, failed: 9, delayed: 0, total: 129, paused: false, workers: 1 };

describe("queue thresholds", () => {
  it("is ok up to 80 % of the threshold, warn above it, over past the threshold", () => {
    expect([levelOf(80, 100), levelOf(81, 100), levelOf(100, 100), levelOf(101, 100)]).toEqual(["ok", "warn", "warn", "over"]);
    expect([levelOf(0, 0), levelOf(1, 0)]).toEqual(["ok", "over"]);
  });

  it("takes the queue's own thresholds, else the default, and names the counts over", () => {
    const config = { default: { waiting: 100, failed: 100 }, perQueue: { churn: { waiting: 500, failed: 10 } } };
    expect(withThresholds(listing, config)).toMatchObject({
      thresholds: { waiting: 500, failed: 10 },
      levels: { waiting: "ok", failed: "warn" },
      over: [],
    });
    expect(withThresholds({ ...listing, name: "sentiment" }, config)).toMatchObject({
      thresholds: { waiting: 100, failed: 100 },
      levels: { waiting: "over", failed: "ok" },
      over: ["waiting"],
    });
  });
});
