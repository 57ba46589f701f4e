import type { FastifyInstance } from "fastify";
import type { Metrics } from "../ports/metrics.ts";

/**
 * http_requests_total and http_request_duration_seconds, labelled by route template (never the
 * raw URL, which would explode cardinality). `path` repeats the template because runbook 001
 * queries `{path="/ai/jobs"}`; `status_class` ("5xx") because it alerts on `{status="5xx"}`.
 */
export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  const labelNames = ["method", "route", "path", "status", "status_class"] as const;
  const requests = metrics.counter({ name: "http_requests_total", help: "HTTP requests by route template and status", labelNames });
  const duration = metrics.histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route template",
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10],
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const labels = { method: request.method, route, path: route, status: String(status), status_class: `${Math.floor(status / 100)}xx` };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
}
