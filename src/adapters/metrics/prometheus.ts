import client from "prom-client";
import type { Counter, Gauge, Histogram, Metrics } from "../../ports/metrics.ts";

export interface PrometheusMetrics extends Metrics {
  readonly registry: client.Registry;
  /** The text exposition format for GET /metrics. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** A registry per Sluice instance (not prom-client's global), so tests and embedded apps don't collide. */
export function createPrometheusMetrics(options: { processMetrics?: boolean } = {}): PrometheusMetrics {
  const registry = new client.Registry();
  if (options.processMetrics ?? true) client.collectDefaultMetrics({ register: registry });
  const instruments = new Map<string, unknown>();

  function once<T>(name: string, make: () => T): T {
    const existing = instruments.get(name);
    if (existing) return existing as T;
    const made = make();
    instruments.set(name, made);
    return made;
  }

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    counter: ({ name, help, labelNames = [] }) =>
      once<Counter>(name, () => {
        const c = new client.Counter({ name, help, labelNames: [...labelNames], registers: [registry] });
        return { inc: (labels = {}, value = 1) => c.inc(labels, value) };
      }),
    gauge: ({ name, help, labelNames = [], collect }) =>
      once<Gauge>(name, () => {
        const g: client.Gauge = new client.Gauge({
          name,
          help,
          labelNames: [...labelNames],
          registers: [registry],
          ...(collect ? { collect: () => collect(wrapper) } : {}),
        });
        const wrapper: Gauge = {
          set: (labels, value) => g.set(labels, value),
          inc: (labels = {}, value = 1) => g.inc(labels, value),
          dec: (labels = {}, value = 1) => g.dec(labels, value),
        };
        return wrapper;
      }),
    histogram: ({ name, help, labelNames = [], buckets }) =>
      once<Histogram>(name, () => {
        const h = new client.Histogram({
          name,
          help,
          labelNames: [...labelNames],
          registers: [registry],
          ...(buckets ? { buckets: [...buckets] } : {}),
        });
        return { observe: (labels, seconds) => h.observe(labels, seconds) };
      }),
  };
}
