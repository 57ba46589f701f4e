/**
 * The metrics port: what the pipeline records, without knowing Prometheus. The Prometheus
 * adapter (src/adapters/metrics/prometheus.ts) registers each instrument once by name;
 * asking again for the same name returns the same instrument.
 */
type Labels = Record<string, string | number>;

export interface Counter {
  inc(labels?: Labels, value?: number): void;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
  inc(labels?: Labels, value?: number): void;
  dec(labels?: Labels, value?: number): void;
}

export interface Histogram {
  observe(labels: Labels, seconds: number): void;
}

interface InstrumentOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface Metrics {
  counter(options: InstrumentOptions): Counter;
  gauge(
    options: InstrumentOptions & {
      /** Called at scrape time to refresh the gauge (e.g. queue depths read from the engine). */
      collect?: (gauge: Gauge) => Promise<void> | void;
    },
  ): Gauge;
  histogram(options: InstrumentOptions & { buckets?: readonly number[] }): Histogram;
}
