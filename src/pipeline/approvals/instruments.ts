import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { Queryable } from "../../ports/store.ts";
import { countOpenByType } from "./sql.ts";

/** Minutes to a week: decisions take from moments to days. */
const RESOLUTION_BUCKETS = [60, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400, 172_800, 604_800];

export interface ApprovalInstruments {
  breached(approvalType: string, count?: number): void;
  resolved(approvalType: string, seconds: number): void;
}

/**
 * Seed 003's HITL metrics. The pending gauge is read from the table at scrape time, so every process
 * reports the same fleet-wide value (aggregate with `max`); the counter and histogram are per process (`sum`).
 */
export function createApprovalInstruments(metrics: Metrics, db: Queryable, logger: Logger): ApprovalInstruments {
  const breachedTotal = metrics.counter({
    name: "hitl_sla_breached_total",
    help: "Approval tasks whose deadline passed before a decision",
    labelNames: ["approval_type"],
  });
  const resolution = metrics.histogram({
    name: "hitl_task_resolution_time_seconds",
    help: "Time from an approval task's creation to its decision (people, auto-decisions and expiry)",
    labelNames: ["approval_type"],
    buckets: RESOLUTION_BUCKETS,
  });
  const seen = new Set<string>();
  metrics.gauge({
    name: "hitl_tasks_pending",
    help: "Approval tasks waiting for a decision (pending or escalated), per type",
    labelNames: ["approval_type"],
    collect: async (gauge) => {
      try {
        const counts = new Map((await countOpenByType(db)).map((r) => [r.approval_type, r.n]));
        // A type whose last task was decided reads 0, not its last non-zero value.
        for (const type of new Set([...seen, ...counts.keys()])) {
          seen.add(type);
          gauge.set({ approval_type: type }, counts.get(type) ?? 0);
        }
      } catch (err) {
        logger.warn({ err }, "could not read pending approval tasks for hitl_tasks_pending");
      }
    },
  });
  return {
    breached: (approvalType, count = 1) => breachedTotal.inc({ approval_type: approvalType }, count),
    resolved: (approvalType, seconds) => resolution.observe({ approval_type: approvalType }, Math.max(0, seconds)),
  };
}
