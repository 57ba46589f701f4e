import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { Queryable } from "../../ports/store.ts";
import type { PriceTable } from "./prices.ts";
import { addUsage, selectUsage, type UsageDelta, type UsageRow } from "./sql.ts";

/**
 * Tokens and cost per workspace, provider and model per UTC day. `record` is synchronous and
 * cheap: it bumps the Prometheus counters at once and adds to an in-process buffer that is
 * written to `ai_usage_daily` as one upsert every `flushMs` (and on close). A process that dies
 * loses at most that much accounting, never a job.
 */

interface UsageEvent {
  workspace: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
}

interface UsageQuery {
  workspaceId?: string | undefined;
  /** Days back, today included. @default 7 */
  days?: number;
}

interface UsageTotals {
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  requests: number;
}

interface UsageReport {
  from: string;
  to: string;
  rows: UsageRow[];
  totals: UsageTotals;
}

export interface AccountingOptions {
  store: Queryable;
  metrics: Metrics;
  prices: PriceTable;
  logger: Logger;
  /** How often the buffer is written. @default 1000 */
  flushMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export interface Accounting {
  /** Counts one completed provider call. Providers `rule` (a task's rule-based answer) are not calls and are skipped. */
  record(event: UsageEvent): void;
  /** Writes the buffer now. */
  flush(): Promise<void>;
  /** Tokens recorded in this process for a workspace on a day and not yet written. */
  pendingTokens(workspaceId: string, day: string): number;
  /** Rows for the last `days` UTC days (this process's buffer is written first). */
  usage(query?: UsageQuery): Promise<UsageReport>;
  close(): Promise<void>;
}

/** `YYYY-MM-DD` of a time in UTC. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Milliseconds from `ms` to the next UTC midnight. */
export function msUntilUtcMidnight(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - ms;
}

export function createAccounting(options: AccountingOptions): Accounting {
  const { store, prices, logger } = options;
  const now = options.now ?? Date.now;
  const tokens = options.metrics.counter({
    name: "ai_tokens_total",
    help: "Tokens used by provider calls of tasks",
    labelNames: ["workspace", "provider", "model", "direction"],
  });
  const cost = options.metrics.counter({
    name: "ai_cost_usd_total",
    help: "Cost in USD of provider calls of tasks, from the price table",
    labelNames: ["workspace", "provider", "model"],
  });
  let buffer = new Map<string, UsageDelta>();
  let flushing: Promise<void> | undefined;
  const timer = setInterval(() => void flush().catch(() => undefined), options.flushMs ?? 1_000);
  timer.unref();

  function merge(into: Map<string, UsageDelta>, d: UsageDelta): void {
    const k = `${d.day}\u0000${d.workspaceId}\u0000${d.provider}\u0000${d.model}`;
    const found = into.get(k);
    if (!found) return void into.set(k, { ...d });
    found.inputTokens += d.inputTokens;
    found.outputTokens += d.outputTokens;
    found.costUsd += d.costUsd;
    found.requests += d.requests;
  }

  async function write(): Promise<void> {
    if (buffer.size === 0) return;
    const batch = buffer;
    buffer = new Map();
    try {
      await addUsage(store, [...batch.values()]);
    } catch (err) {
      // Keep the counts for the next flush rather than drop them.
      for (const d of batch.values()) merge(buffer, d);
      logger.warn({ err, rows: batch.size }, "usage accounting could not be written; will retry");
      throw err;
    }
  }

  function flush(): Promise<void> {
    flushing ??= write().finally(() => (flushing = undefined));
    return flushing;
  }

  return {
    record(event) {
      if (event.provider === "rule") return;
      const labels = { workspace: event.workspace, provider: event.provider, model: event.model };
      const usd = prices.cost(event.provider, event.model, event);
      tokens.inc({ ...labels, direction: "input" }, event.inputTokens);
      tokens.inc({ ...labels, direction: "output" }, event.outputTokens);
      if (usd > 0) cost.inc(labels, usd);
      merge(buffer, {
        day: utcDay(now()),
        workspaceId: event.workspace,
        provider: event.provider,
        model: event.model,
        inputTokens: event.inputTokens,
        outputTokens: event.outputTokens,
        costUsd: usd,
        requests: 1,
      });
    },
    flush,
    pendingTokens(workspaceId, day) {
      let sum = 0;
      for (const d of buffer.values()) if (d.workspaceId === workspaceId && d.day === day) sum += d.inputTokens + d.outputTokens;
      return sum;
    },
    async usage(query = {}) {
      await flush().catch(() => undefined);
      const days = Math.max(1, query.days ?? 7);
      const to = utcDay(now());
      const from = utcDay(now() - (days - 1) * 86_400_000);
      const rows = await selectUsage(store, { fromDay: from, workspaceId: query.workspaceId });
      const totals = rows.reduce<UsageTotals>(
        (t, r) => ({
          input_tokens: t.input_tokens + r.input_tokens,
          output_tokens: t.output_tokens + r.output_tokens,
          cost_usd: t.cost_usd + r.cost_usd,
          requests: t.requests + r.requests,
        }),
        { input_tokens: 0, output_tokens: 0, cost_usd: 0, requests: 0 },
      );
      return { from, to, rows, totals: { ...totals, cost_usd: Math.round(totals.cost_usd * 1e8) / 1e8 } };
    },
    async close() {
      clearInterval(timer);
      await flush().catch((err: unknown) => logger.error({ err }, "usage accounting lost at close"));
    },
  };
}
