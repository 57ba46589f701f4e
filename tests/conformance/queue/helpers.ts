import { createLogger } from "../../../src/adapters/log/pino.ts";
import { createPrometheusMetrics, type PrometheusMetrics } from "../../../src/adapters/metrics/prometheus.ts";
import type { QueueBackend } from "../../../src/adapters/queue/index.ts";
import type { QueueBackendKind } from "../../../src/core/config.ts";
import { createQueueManager, type QueueManager } from "../../../src/pipeline/queues/queue-manager.ts";
import type { QueueDefaults } from "../../../src/pipeline/queues/defaults.ts";

/** A queue backend under test: the same suite runs on each. */
export interface QueueTarget {
  name: string;
  kind: QueueBackendKind;
  /** Opens a backend on an empty namespace (fresh database, fresh PGlite, or unique Redis prefix). */
  open(): Promise<{ backend: QueueBackend; cleanup?: () => Promise<void> }>;
}

export interface OpenedManager {
  backend: QueueBackend;
  manager: QueueManager;
  metrics: PrometheusMetrics;
  close(): Promise<void>;
}

export async function openManager(target: QueueTarget, defaults: QueueDefaults = {}): Promise<OpenedManager> {
  const { backend, cleanup } = await target.open();
  const metrics = createPrometheusMetrics({ processMetrics: false });
  const manager = createQueueManager({ backend, metrics, logger: createLogger({ level: "silent" }), defaults });
  return {
    backend,
    manager,
    metrics,
    async close() {
      await manager.close();
      await backend.close();
      await cleanup?.();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `check` passes; fails with the last value seen. */
export async function eventually<T>(
  read: () => Promise<T> | T,
  check: (value: T) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await sleep(25);
    last = await read();
  }
  return last;
}

/** A gate a processor can wait on. */
export function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

let counter = 0;
/** A queue name unique within the run. */
export function fresh(label: string): string {
  counter += 1;
  return `${label}-${counter}`;
}

/** The value of one series in Prometheus text output, or undefined. */
export function seriesValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf("}");
    const inside = line.slice(name.length + 1, close).split(",");
    if (wanted.every((w) => inside.includes(w))) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}
