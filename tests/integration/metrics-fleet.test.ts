import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { sampleValue } from "../harness/metrics.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

/**
 * Issue 8 item 10: an API and a worker on one Redis both export the fleet-wide queue gauges, so
 * `sum by (queue)` counted every waiting job twice and AIQueueDepthHigh fired at 1000/N. Two real
 * Sluice instances are scraped and their samples evaluated by promtool against the shipped rules.
 */
const RULES = fileURLToPath(new URL("../../ops/prometheus/alerts.yml", import.meta.url));
const hasPromtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;
const FAMILIES = [
  "ai_queue_depth_total",
  "ai_queue_dequeue_total",
  "bullmq_queue_waiting",
  "bullmq_workers_active",
  "bullmq_jobs_completed_total",
];

/** The scrape's samples of FAMILIES as promtool input series, labelled as Prometheus would label the target. */
function asInputSeries(metrics: string, instance: string): string[] {
  return metrics
    .split("\n")
    .map((line) => /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && FAMILIES.includes(m[1] ?? ""))
    .map(
      ([, name, labels, value]) =>
        `      - series: '${name}{${labels},job="sluice",instance="${instance}"}'\n        values: '${value}x20'`,
    );
}

describe.runIf(hasPromtool)("fleet-wide gauges scraped from an API and a worker", () => {
  let redis: RunningServer;
  let api: TestSluice;
  let worker: TestSluice;
  let scrapes: { api: string; worker: string };

  beforeAll(async () => {
    redis = await startRedis();
    const env = {
      REDIS_URL: redis.url,
      DATABASE_URL: await freshPostgresDatabase("fleetgauges"),
      VECTOR_SEARCH_ENABLED: "false",
      QUEUES: "churn,sentiment",
    };
    api = await startTestSluice(env);
    worker = await startTestSluice(env);
    // The worker process completes 2 churn jobs: its own counters, which only it exports.
    await worker.sluice.queues.startWorker("churn", async () => "done", { concurrency: 2 });
    await worker.sluice.queues.addBulk("churn", [
      { name: "a", data: {} },
      { name: "b", data: {} },
    ]);
    await until(
      () => worker.sluice.queues.counts("churn"),
      (c) => c.completed === 2,
      15_000,
      "2 churn jobs completed",
    );
    // Then a backlog: 150 churn jobs and 600 ai-jobs jobs, fleet-wide, held by pausing.
    await worker.sluice.queues.pause("churn");
    await api.sluice.queues.pause("ai-jobs");
    await api.sluice.queues.addBulk(
      "churn",
      Array.from({ length: 150 }, (_, i) => ({ name: `c${i}`, data: {} })),
    );
    await api.sluice.queues.addBulk(
      "ai-jobs",
      Array.from({ length: 600 }, (_, i) => ({ name: `j${i}`, data: {} })),
    );
    await new Promise((r) => setTimeout(r, 1_100)); // past the one-second gauge snapshot
    const scrape = async (t: TestSluice) => (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    scrapes = { api: await scrape(api), worker: await scrape(worker) };
  }, 60_000);
  afterAll(async () => {
    await api?.close();
    await worker?.close();
    await redis?.stop();
  });

  it("every process exports the same fleet-wide gauges, and only the worker its own counters", () => {
    for (const text of [scrapes.api, scrapes.worker]) {
      expect(sampleValue(text, "bullmq_queue_waiting", 'queue="churn"')).toBe(150);
      expect(sampleValue(text, "ai_queue_depth_total", 'queue="ai-jobs",state="waiting"')).toBe(600);
      expect(sampleValue(text, "bullmq_workers_active", 'queue="churn"')).toBe(1);
    }
    expect(sampleValue(scrapes.worker, "bullmq_jobs_completed_total", 'queue="churn"')).toBe(2);
    expect(sampleValue(scrapes.api, "bullmq_jobs_completed_total", 'queue="churn"')).toBe(0);
  });

  it("the shipped rules count each job once: 600 waiting on two processes is not AIQueueDepthHigh, one alert per queue", () => {
    const dir = fileTempDir("sluice-fleet-rules-");
    try {
      const test = [
        `rule_files: ['${RULES}']`,
        "evaluation_interval: 1m",
        "tests:",
        "  - interval: 1m",
        "    input_series:",
        ...asInputSeries(scrapes.api, "api:3000"),
        ...asInputSeries(scrapes.worker, "worker:3000"),
        "    promql_expr_test:",
        '      - expr: max by (queue) (bullmq_queue_waiting{queue=~"churn|ai-jobs"})',
        "        eval_time: 1m",
        "        exp_samples:",
        "          - { labels: '{queue=\"ai-jobs\"}', value: 600 }",
        "          - { labels: '{queue=\"churn\"}', value: 150 }",
        '      - expr: sum by (queue) (bullmq_jobs_completed_total{queue="churn"})',
        "        eval_time: 1m",
        "        exp_samples:",
        "          - { labels: '{queue=\"churn\"}', value: 2 }",
        "    alert_rule_test:",
        "      - { eval_time: 6m, alertname: AIQueueDepthHigh, exp_alerts: [] }",
        "      - eval_time: 11m",
        "        alertname: HighChurnQueueBacklog",
        "        exp_alerts:",
        "          - { exp_labels: { severity: warning, queue: churn }, exp_annotations: { summary: Churn queue backlog high } }",
        "      - eval_time: 6m",
        "        alertname: SentimentWorkerDown",
        "        exp_alerts:",
        "          - { exp_labels: { severity: critical, queue: sentiment }, exp_annotations: { summary: No worker on the sentiment queue } }",
      ].join("\n");
      writeFileSync(join(dir, "fleet.test.yml"), test + "\n");
      const result = spawnSync("promtool", ["test", "rules", "fleet.test.yml"], { cwd: dir, encoding: "utf8" });
      expect(result.status, result.stdout + result.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
