import type { Counter, Gauge, Histogram, Metrics } from "../../ports/metrics.ts";

/** The runtime's Prometheus instruments; names are part of the operator contract (docs/providers.md). */
export interface RuntimeInstruments {
  /** outcome: success | rate_limited | timeout | error | rejected | short_circuited | aborted */
  requests: Counter;
  latency: Histogram;
  /** 0 closed, 1 open, 2 half-open, 3 isolated (cockatiel's CircuitState). */
  breakerState: Gauge;
  retries: Counter;
  fallbacks: Counter;
  limiterWait: Histogram;
}

const ROUTE = ["provider", "model"] as const;

export function createInstruments(metrics: Metrics): RuntimeInstruments {
  return {
    requests: metrics.counter({
      name: "ai_provider_requests_total",
      help: "Calls to AI providers by outcome",
      labelNames: [...ROUTE, "outcome"],
    }),
    latency: metrics.histogram({
      name: "ai_provider_latency_seconds",
      help: "Time of each call to an AI provider (one attempt)",
      labelNames: ROUTE,
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    }),
    breakerState: metrics.gauge({
      name: "ai_provider_breaker_state",
      help: "Circuit breaker per route: 0 closed, 1 open, 2 half-open, 3 isolated",
      labelNames: ROUTE,
    }),
    retries: metrics.counter({
      name: "ai_provider_retries_total",
      help: "Attempts repeated after a retryable provider error",
      labelNames: ROUTE,
    }),
    fallbacks: metrics.counter({
      name: "ai_provider_fallbacks_total",
      help: "Calls answered by a fallback route or rule instead of the requested route",
      labelNames: [...ROUTE, "served_by"],
    }),
    limiterWait: metrics.histogram({
      name: "ai_provider_limiter_wait_seconds",
      help: "Time calls waited for requests/min and tokens/min capacity",
      labelNames: ROUTE,
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    }),
  };
}
