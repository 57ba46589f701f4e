import type { QueueThresholds } from "../../core/config.ts";
import type { QueueListing } from "./types.ts";

/** Where a count stands against its threshold: `warn` past 80 % of it, `over` past it. */
export type ThresholdLevel = "ok" | "warn" | "over";

/** The counts that have thresholds (QUEUE_THRESHOLDS). */
const THRESHOLD_COUNTS = ["waiting", "failed"] as const;
type ThresholdCount = (typeof THRESHOLD_COUNTS)[number];

/** A queue's listing with its thresholds and where each count stands (`GET /api/queues`, `sluice queues`). */
export interface QueueStatus extends QueueListing {
  thresholds: Record<ThresholdCount, number>;
  levels: Record<ThresholdCount, ThresholdLevel>;
  /** The counts past their threshold (empty when none is). */
  over: ThresholdCount[];
}

export interface ThresholdConfig {
  readonly default: QueueThresholds;
  readonly perQueue: Readonly<Record<string, QueueThresholds>>;
}

function thresholdsOf(config: ThresholdConfig, queue: string): QueueThresholds {
  return config.perQueue[queue] ?? config.default;
}

/** A threshold of 0 (seed 003's "failed = 0") has no warning band: any count is over it. */
export function levelOf(count: number, threshold: number): ThresholdLevel {
  if (count > threshold) return "over";
  return count * 5 > threshold * 4 ? "warn" : "ok";
}

export function withThresholds(listing: QueueListing, config: ThresholdConfig): QueueStatus {
  const limits = thresholdsOf(config, listing.name);
  const levels = { waiting: levelOf(listing.waiting, limits.waiting), failed: levelOf(listing.failed, limits.failed) };
  return {
    ...listing,
    thresholds: { waiting: limits.waiting, failed: limits.failed },
    levels,
    over: THRESHOLD_COUNTS.filter((c) => levels[c] === "over"),
  };
}
