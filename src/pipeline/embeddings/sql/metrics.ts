import type { Counter, Gauge, Histogram, Metrics } from "../../../ports/metrics.ts";
import type { Queryable } from "../../../ports/store.ts";
import { backlogGauge, oldestOpenBatchAgeSeconds } from "./reports.ts";

export interface EmbeddingMetrics {
  /** vector_search_latency_seconds: pass as `{ latency }` to searchItems. */
  searchLatency: Histogram;
  /** ai_embedded_items_total: completed items (rate() gives embedded items/s). */
  embeddedItems: Counter;
}

export interface EmbeddingMetricsOptions {
  /** Workspaces with their own ai_backlog_items series; the rest sum into workspace="_other". @default 50 */
  maxWorkspaces?: number | undefined;
}

/**
 * Registers the embeddings instruments: ai_backlog_items{workspace,status} and ai_batch_age_seconds
 * are read from the store at scrape time, so every process reports the same numbers.
 */
export function registerEmbeddingMetrics(metrics: Metrics, db: Queryable, options: EmbeddingMetricsOptions = {}): EmbeddingMetrics {
  // Series seen before but absent now must drop to 0, or a drained backlog would look stuck.
  const seen = new Set<string>();
  metrics.gauge({
    name: "ai_backlog_items",
    help: "Embedding items not yet completed, per workspace and status (pending, processing, failed)",
    labelNames: ["workspace", "status"],
    collect: async (gauge: Gauge) => {
      const rows = await backlogGauge(db, { maxWorkspaces: options.maxWorkspaces });
      const now = new Set<string>();
      for (const row of rows) {
        now.add(`${row.workspace}\u0000${row.status}`);
        gauge.set({ workspace: row.workspace, status: row.status }, row.count);
      }
      for (const key of seen) {
        if (now.has(key)) continue;
        const [workspace = "", status = ""] = key.split("\u0000");
        gauge.set({ workspace, status }, 0);
      }
      for (const key of now) seen.add(key);
    },
  });
  metrics.gauge({
    name: "ai_batch_age_seconds",
    help: "Age of the oldest embedding batch still submitted or processing (0 when none)",
    collect: async (gauge: Gauge) => gauge.set({}, await oldestOpenBatchAgeSeconds(db)),
  });
  return {
    searchLatency: metrics.histogram({
      name: "vector_search_latency_seconds",
      help: "Duration of vector searches",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 1, 3],
    }),
    embeddedItems: metrics.counter({ name: "ai_embedded_items_total", help: "Embedding items completed" }),
  };
}
