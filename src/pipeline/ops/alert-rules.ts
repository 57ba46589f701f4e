import type { QueueThresholds } from "../../core/config.ts";
import type { ThresholdConfig } from "../queues/thresholds.ts";
import { STATIC_ALERT_RULES } from "./alert-rules-static.ts";

/**
 * `sluice alerts render`: the Prometheus rule file, from the same QUEUE_THRESHOLDS that `sluice
 * queues` and `GET /api/queues` judge queues by, so the alerts and the status views cannot
 * disagree. The fixed rules come first; the last group holds one rule per queue that has its own
 * thresholds, and one for every other queue at the `*` threshold.
 */
export function renderAlertRules(thresholds: ThresholdConfig): string {
  return `${STATIC_ALERT_RULES}\n${thresholdGroup(thresholds)}`;
}

interface CountRule {
  alert: string;
  metric: string;
  pick: (t: QueueThresholds) => number;
  summary: string;
}

const COUNT_RULES: readonly CountRule[] = [
  {
    alert: "QueueLengthWarning",
    metric: "bullmq_queue_waiting",
    pick: (t) => t.waiting,
    summary: "Queue {{ $labels.queue }} has {{ $value }} jobs waiting",
  },
  {
    alert: "QueueFailedJobsHigh",
    metric: "bullmq_queue_failed",
    pick: (t) => t.failed,
    summary: "Queue {{ $labels.queue }} keeps {{ $value }} failed jobs",
  },
];

// Queue names are letters, digits, '.', '_', '-': only '.' means something in a regular expression.
const asRegex = (queue: string): string => queue.replaceAll(".", "\\\\.");

function rule(count: CountRule, selector: string, threshold: number, comment: string): string {
  return [
    `      # ${comment}`,
    `      - alert: ${count.alert}`,
    `        expr: max by (queue) (${count.metric}${selector}) > ${threshold}`,
    "        for: 5m",
    "        labels: { severity: warning }",
    "        annotations:",
    `          summary: "${count.summary}"`,
  ].join("\n");
}

function rulesFor(count: CountRule, thresholds: ThresholdConfig): string[] {
  const named = Object.keys(thresholds.perQueue).sort();
  const others = named.length === 0 ? "" : `{queue!~"${named.map(asRegex).join("|")}"}`;
  const fallback = count.pick(thresholds.default);
  const rules = [
    rule(count, others, fallback, `Every queue without its own threshold: QUEUE_THRESHOLDS "*" ${count.metric} > ${fallback}.`),
  ];
  for (const queue of named) {
    const own = thresholds.perQueue[queue] ?? thresholds.default;
    rules.push(rule(count, `{queue="${queue}"}`, count.pick(own), `QUEUE_THRESHOLDS "${queue}".`));
  }
  return rules;
}

function thresholdGroup(thresholds: ThresholdConfig): string {
  return [
    '  # Per-queue thresholds, rendered from QUEUE_THRESHOLDS (docs/configuration.md): seed 004 §7.3 "Queue',
    '  # Length > 100" warning by default, and seed 003\'s per-queue limits ("waiting < 10, failed = 0").',
    "  # bullmq_queue_failed counts failed jobs kept (7 days); JobFailureRateHigh above is the rate.",
    "  - name: sluice-queue-thresholds",
    "    rules:",
    ...COUNT_RULES.flatMap((count) => rulesFor(count, thresholds)),
    "",
  ].join("\n");
}
