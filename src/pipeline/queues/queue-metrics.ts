import type { Logger } from "../../core/logger.ts";
import type { Counter, Metrics } from "../../ports/metrics.ts";
import type { AnyWorker } from "../../ports/queue.ts";
import type { QueueCounts } from "./types.ts";

/** What the gauges read at scrape time, per queue. */
export interface QueueSnapshot {
  counts: QueueCounts;
  workers: number;
}

export interface QueueInstruments {
  /** Starts every counter at 0 for a new queue, so `rate(...) == 0` alerts work from the first scrape. */
  declare(queue: string): void;
  enqueued(queue: string, count: number): void;
  /** Counts dequeues, completions, failed attempts and stalls from the worker's own events. */
  observe(worker: AnyWorker, queue: string): void;
}

/** The states that make up queue depth: pending work, not history (runbook 001 alerts on depth > 1000). */
const DEPTH_STATES = ["waiting", "active", "delayed"] as const;

const FLEET = "Fleet-wide: every process reports the same value; aggregate with max, not sum.";

/**
 * Queue metrics through the Metrics port, identical on every backend: counters from Worker events
 * (never QueueEvents, which the Postgres backend can drop) and gauges filled at scrape time from
 * job counts.
 *
 * Two scopes, so a fleet of API and worker processes adds up (issue 8): the gauges are read from
 * the shared queue engine, so every process reports the same fleet-wide value and queries take
 * `max` across processes (a `sum` counts each job once per process); the counters count this
 * process's own worker events and are summed. Every process exports the gauges rather than one
 * role, so depth stays visible while any one process is up.
 */
export function createQueueInstruments(
  metrics: Metrics,
  snapshot: () => Promise<Map<string, QueueSnapshot>>,
  logger: Logger,
): QueueInstruments {
  const byQueue = ["queue"] as const;
  const enqueue = metrics.counter({ name: "ai_queue_enqueue_total", help: "Jobs added to the queue by this process", labelNames: byQueue });
  const dequeue = metrics.counter({
    name: "ai_queue_dequeue_total",
    help: "Jobs taken by this process's workers (each attempt)",
    labelNames: byQueue,
  });
  const completed = metrics.counter({
    name: "bullmq_jobs_completed_total",
    help: "Jobs completed by this process's workers",
    labelNames: byQueue,
  });
  const failed = metrics.counter({
    name: "bullmq_jobs_failed_total",
    help: "Job attempts that failed in this process's workers (retried or final)",
    labelNames: byQueue,
  });
  const stalled = metrics.counter({
    name: "bullmq_jobs_stalled_total",
    help: "Jobs whose worker lost the lock (crash) and were requeued, seen by this process's workers",
    labelNames: byQueue,
  });

  const fill = (read: (s: QueueSnapshot) => number) => async (gauge: { set(labels: Record<string, string>, value: number): void }) => {
    for (const [queue, s] of await safeSnapshot()) gauge.set({ queue }, read(s));
  };
  const safeSnapshot = async (): Promise<Map<string, QueueSnapshot>> => {
    try {
      return await snapshot();
    } catch (err) {
      logger.warn({ err }, "queue metrics: could not read job counts");
      return new Map();
    }
  };
  metrics.gauge({
    name: "ai_queue_depth_total",
    help: `Jobs pending in the queue, by state (waiting includes paused and prioritized). ${FLEET}`,
    labelNames: ["queue", "state"],
    collect: async (gauge) => {
      for (const [queue, s] of await safeSnapshot()) for (const state of DEPTH_STATES) gauge.set({ queue, state }, s.counts[state]);
    },
  });
  metrics.gauge({
    name: "bullmq_queue_waiting",
    help: `Jobs waiting to run (includes paused and prioritized). ${FLEET}`,
    labelNames: byQueue,
    collect: fill((s) => s.counts.waiting),
  });
  metrics.gauge({
    name: "bullmq_queue_failed",
    help: `Failed jobs kept in the queue (QUEUE_THRESHOLDS failed). ${FLEET}`,
    labelNames: byQueue,
    collect: fill((s) => s.counts.failed),
  });
  metrics.gauge({
    name: "ai_queue_workers",
    help: `Workers connected to the queue. ${FLEET}`,
    labelNames: byQueue,
    collect: fill((s) => s.workers),
  });
  metrics.gauge({
    name: "bullmq_workers_active",
    help: `Workers connected to the queue. ${FLEET}`,
    labelNames: byQueue,
    collect: fill((s) => s.workers),
  });

  const counters: Counter[] = [enqueue, dequeue, completed, failed, stalled];
  return {
    declare: (queue) => counters.forEach((c) => c.inc({ queue }, 0)),
    enqueued: (queue, count) => enqueue.inc({ queue }, count),
    observe(worker, queue) {
      worker.on("active", () => dequeue.inc({ queue }));
      worker.on("completed", () => completed.inc({ queue }));
      worker.on("failed", () => failed.inc({ queue }));
      worker.on("stalled", () => stalled.inc({ queue }));
    },
  };
}
