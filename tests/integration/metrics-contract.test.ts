import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/** Metric names the runbooks and DESIGN.md name: a contract with every dashboard and alert built on them. */
const CONTRACT = [
  "ai_queue_depth_total",
  "ai_queue_enqueue_total",
  "ai_queue_dequeue_total",
  "ai_queue_workers",
  "ai_backlog_items",
  "ai_batch_age_seconds",
  "vector_search_latency_seconds",
  "http_requests_total",
  "http_request_duration_seconds",
  "bullmq_queue_waiting",
  "bullmq_jobs_completed_total",
  "bullmq_workers_active",
  "ai_tokens_total",
  "ai_cost_usd_total",
  "ai_cache_hits_total",
  "ai_cache_misses_total",
];

/** Metric names used in the shipped alert rules (identifiers followed by `{`, `[`, `)` or a comparison; not label matchers or `by (...)` lists). */
function alertMetricNames(): string[] {
  const rules = readFileSync(new URL("../../ops/prometheus/alerts.yml", import.meta.url), "utf8");
  const exprs = [...rules.matchAll(/expr:\s*(.+)/g)].map((m) => (m[1] ?? "").replace(/\b(by|without) *\([^)]*\)/g, ""));
  const names = exprs.flatMap((e) => [...e.matchAll(/\b([a-z_][a-z0-9_]*)(?=\{|\[|\)| *[<>]| *==)/g)].map((m) => m[1] ?? ""));
  const promql = new Set(["sum", "max", "rate", "by", "and", "histogram_quantile", "up", "le"]);
  return [...new Set(names.map((n) => n.replace(/_bucket$/, "")).filter((n) => !promql.has(n)))];
}

describe("the /metrics contract", () => {
  let t: TestSluice;
  let text: string;
  beforeAll(async () => {
    t = await startTestSluice();
    await t.app.inject({ method: "GET", url: "/health" });
    text = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(CONTRACT)("exports %s", (name) => {
    expect(text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
  });

  it("exports every metric the alert rules in ops/prometheus use", () => {
    const names = alertMetricNames();
    expect(names.length).toBeGreaterThan(8);
    for (const name of names) expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
  });
});
