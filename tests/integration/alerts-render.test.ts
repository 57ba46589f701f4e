import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../harness/cli.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

const shipped = fileURLToPath(new URL("../../ops/prometheus/alerts.yml", import.meta.url));
const hasPromtool = spawnSync("sh", ["-c", "command -v promtool"]).status === 0;
const THRESHOLDS = JSON.stringify({ "*": { waiting: 100 }, churn: { waiting: 10, failed: 0 }, "lead.scoring": { waiting: 5 } });

/** churn (threshold 10) and ai-jobs (default 100) are over, sentiment and lead.scoring are not; leadXscoring shows the '.' is not a wildcard. */
const UNIT_TEST = `rule_files: [alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'bullmq_queue_waiting{instance="worker:3000",queue="churn"}'
        values: '20x10'
      - series: 'bullmq_queue_waiting{instance="worker:3000",queue="sentiment"}'
        values: '20x10'
      - series: 'bullmq_queue_waiting{instance="worker:3000",queue="lead.scoring"}'
        values: '3x10'
      - series: 'bullmq_queue_waiting{instance="worker:3000",queue="leadXscoring"}'
        values: '150x10'
      - series: 'bullmq_queue_waiting{instance="worker:3000",queue="ai-jobs"}'
        values: '150x10'
      - series: 'bullmq_queue_failed{instance="worker:3000",queue="churn"}'
        values: '1x10'
      - series: 'bullmq_queue_failed{instance="worker:3000",queue="sentiment"}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 3m
        alertname: QueueLengthWarning
        exp_alerts: []
      - eval_time: 6m
        alertname: QueueLengthWarning
        exp_alerts:
          - exp_labels: { severity: warning, queue: churn }
            exp_annotations: { summary: "Queue churn has 20 jobs waiting" }
          - exp_labels: { severity: warning, queue: leadXscoring }
            exp_annotations: { summary: "Queue leadXscoring has 150 jobs waiting" }
          - exp_labels: { severity: warning, queue: ai-jobs }
            exp_annotations: { summary: "Queue ai-jobs has 150 jobs waiting" }
      - eval_time: 6m
        alertname: QueueFailedJobsHigh
        exp_alerts:
          - exp_labels: { severity: warning, queue: churn }
            exp_annotations: { summary: "Queue churn keeps 1 failed jobs" }
`;

/** `sluice alerts render > alerts.yml` (issue 11; seed 004 §7.3, seed 003 §4.1): rules from QUEUE_THRESHOLDS. */
describe("sluice alerts render", () => {
  const dir = fileTempDir("sluice-alerts-");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("renders ops/prometheus/alerts.yml exactly from the default thresholds (the shipped file cannot drift)", () => {
    const rendered = runCli(["alerts", "render"], { QUEUE_THRESHOLDS: "" });
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(rendered.stdout).toBe(readFileSync(shipped, "utf8"));
  });

  it.runIf(hasPromtool)(
    "renders valid rules that fire for a queue over its configured threshold and not for one under it (promtool)",
    () => {
      const rendered = runCli(["alerts", "render"], { QUEUE_THRESHOLDS: THRESHOLDS });
      expect(rendered.status, rendered.stderr).toBe(0);
      expect(rendered.stdout).toContain('expr: max by (queue) (bullmq_queue_waiting{queue="churn"}) > 10');
      writeFileSync(join(dir, "alerts.yml"), rendered.stdout);
      writeFileSync(join(dir, "queues.test.yml"), UNIT_TEST);
      const check = spawnSync("promtool", ["check", "rules", "alerts.yml"], { cwd: dir, encoding: "utf8" });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const test = spawnSync("promtool", ["test", "rules", "queues.test.yml"], { cwd: dir, encoding: "utf8" });
      expect(test.status, test.stdout + test.stderr).toBe(0);
    },
  );

  it("refuses bad thresholds with the config exit code, naming the variable", () => {
    const rendered = runCli(["alerts", "render"], { QUEUE_THRESHOLDS: '{"churn":{"waiting":"lots"}}' });
    expect(rendered.status).toBe(78);
    expect(rendered.stderr).toMatch(/QUEUE_THRESHOLDS\.churn\.waiting/);
  });
});
