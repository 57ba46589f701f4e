/**
 * The alert rules that do not depend on configuration, as they are shipped in
 * ops/prometheus/alerts.yml (`sluice alerts render` appends the per-queue threshold rules). Edit the
 * rules here: the shipped file is this text plus the render of the default thresholds, and a test
 * keeps the two equal.
 */
export const STATIC_ALERT_RULES = `# Prometheus alert rules for Sluice: the seed runbooks' alerts, on the metric names Sluice exports.
# Load with \`rule_files: [ops/prometheus/alerts.yml]\`. Checked and unit-tested by
# tests/integration/ops-alerts.test.ts (promtool check rules / promtool test rules).
# Generated: \`sluice alerts render > alerts.yml\` writes this file with the per-queue thresholds of
# your QUEUE_THRESHOLDS (last group); the file shipped here is the render of the defaults
# (src/pipeline/ops/alert-rules.ts, kept equal by tests/integration/alerts-render.test.ts).
#
# Every Sluice process (API, worker, all) exports two kinds of series (docs/runbook.md §4):
# - fleet-wide gauges, read from the shared queue engine or store at scrape time, so every process
#   reports the same value: ai_queue_depth_total, bullmq_queue_waiting, ai_queue_workers,
#   bullmq_workers_active, ai_backlog_items, ai_batch_age_seconds. Aggregate them with \`max\`, never
#   \`sum\` (a sum over an API and a worker counts each job twice);
# - per-process counters and histograms (jobs completed/failed, dequeues, HTTP requests, search
#   latency): \`sum\` them across processes.
groups:
  - name: sluice-service
    rules:
      # Seed 002 "Service Down Alert"
      - alert: SluiceDown
        expr: up{job="sluice"} == 0
        for: 2m
        labels: { severity: critical }
        annotations:
          summary: "Sluice instance {{ $labels.instance }} is down"
          runbook: "docs/runbook.md#4-alerts"
      # Seed 001 "http_requests_total{status=5xx} alert if > 1%"; seed 002 "High Error Rate" (5%)
      - alert: SluiceHighErrorRate
        expr: sum(rate(http_requests_total{status_class="5xx"}[5m])) / sum(rate(http_requests_total[5m])) > 0.01
        for: 5m
        labels: { severity: warning }
        annotations:
          summary: "{{ $value | humanizePercentage }} of Sluice HTTP requests fail with 5xx"
      # Seed 001 "/ai/jobs latency p95 < 200ms"; seed 004 §7.3 API P95 > 500 ms warning
      - alert: SluiceJobsApiSlow
        expr: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{path="/ai/jobs"}[5m]))) > 0.2
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "POST /ai/jobs p95 is {{ $value | humanizeDuration }}"

  - name: sluice-queues
    rules:
      # Seed 001 "AIQueueDepthHigh"
      - alert: AIQueueDepthHigh
        expr: max by (queue) (ai_queue_depth_total{state="waiting"}) > 1000
        for: 5m
        labels: { severity: warning }
        annotations:
          summary: "AI job queue {{ $labels.queue }} depth high ({{ $value }} jobs pending)"
      # Seed 001 "AIJobProcessingStalled"
      - alert: AIJobProcessingStalled
        expr: sum by (queue) (rate(ai_queue_dequeue_total[5m])) == 0 and max by (queue) (ai_queue_depth_total{state="waiting"}) > 0
        for: 10m
        labels: { severity: critical }
        annotations:
          summary: "AI job processing stalled on {{ $labels.queue }}: jobs waiting, none taken for 10 minutes"
      # Seed 003 §4.1 "HighChurnQueueBacklog" as the seed names it; for your own queues set QUEUE_THRESHOLDS
      # and re-render (QueueLengthWarning per queue, last group)
      - alert: HighChurnQueueBacklog
        expr: max by (queue) (bullmq_queue_waiting{queue="churn"}) > 100
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "Churn queue backlog high"
      # Seed 003 §4.1 "SentimentWorkerDown"
      - alert: SentimentWorkerDown
        expr: max by (queue) (bullmq_workers_active{queue="sentiment"}) == 0
        for: 5m
        labels: { severity: critical }
        annotations:
          summary: "No worker on the sentiment queue"
      # Seed 004 §7.3 queue length warning/critical
      - alert: QueueLengthCritical
        expr: max by (queue) (bullmq_queue_waiting) > 500
        for: 5m
        labels: { severity: critical }
        annotations:
          summary: "Queue {{ $labels.queue }} has {{ $value }} jobs waiting"

  - name: sluice-embeddings
    rules:
      # Seed 000 "ai_backlog_items > 10000"
      - alert: AIBacklogHigh
        expr: sum(max by (workspace) (ai_backlog_items{status="pending"})) > 10000
        for: 15m
        labels: { severity: warning }
        annotations:
          summary: "{{ $value }} items wait for embeddings"
      # Seed 000 "ai_batch_age_seconds > 7200 (batch blocat >2h)"
      - alert: AIBatchStuck
        expr: max(ai_batch_age_seconds) > 7200
        labels: { severity: warning }
        annotations:
          summary: "An embedding batch has been open for {{ $value | humanizeDuration }}"
      # Seed 000 "Vector search latency p95 > 300ms"
      - alert: VectorSearchSlow
        expr: histogram_quantile(0.95, sum by (le) (rate(vector_search_latency_seconds_bucket[5m]))) > 0.3
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "Vector search p95 is {{ $value | humanizeDuration }}"

  - name: sluice-hitl-and-schedules
    rules:
      # Seed 003 §4.1 "HITLSLABreaches": \`rate(hitl_sla_breached_total[1h]) > 0.1\` for 30m. The counter
      # is per process (each one that sweeps deadlines or records a late decision counts), so sum them.
      - alert: HITLSLABreaches
        expr: sum by (approval_type) (rate(hitl_sla_breached_total[1h])) > 0.1
        for: 30m
        labels: { severity: warning }
        annotations:
          summary: 'Approval tasks of type {{ $labels.approval_type }} miss their deadline ({{ $value | printf "%.2f" }} per second over the last hour)'
          runbook: "docs/runbook.md (HITL SLA breaches)"
      # Seed 003 §1.3 marks a cron job STALE when its last run is over 2 days old. The gauge is read from
      # the store at scrape time (every process reports the same): take the max.
      - alert: SluiceScheduleStale
        expr: time() - max by (schedule) (sluice_schedule_last_success_timestamp_seconds) > 172800
        labels: { severity: warning }
        annotations:
          summary: "Schedule {{ $labels.schedule }} has not succeeded for {{ $value | humanizeDuration }}"
          runbook: "docs/runbook.md (cron staleness)"

  # Seed 004 §7.3 "Alert Thresholds", the rows the rules above do not cover yet.
  - name: sluice-seed-004-thresholds
    rules:
      # Error rate > 5 % critical, for jobs: failed attempts over all finished attempts, per queue,
      # summed over the worker processes (bullmq_jobs_failed_total counts every failed attempt, retried or final).
      - alert: JobFailureRateHigh
        expr: >-
          sum by (queue) (rate(bullmq_jobs_failed_total[5m]))
          / (sum by (queue) (rate(bullmq_jobs_completed_total[5m])) + sum by (queue) (rate(bullmq_jobs_failed_total[5m])))
          > 0.05
        for: 10m
        labels: { severity: critical }
        annotations:
          summary: "{{ $value | humanizePercentage }} of job attempts on {{ $labels.queue }} fail"
      # Cache hit rate < 70 % warning, < 50 % critical (no cache traffic: no ratio, no alert).
      - alert: CacheHitRateLow
        expr: sum(rate(ai_cache_hits_total[15m])) / (sum(rate(ai_cache_hits_total[15m])) + sum(rate(ai_cache_misses_total[15m]))) < 0.7
        for: 15m
        labels: { severity: warning }
        annotations:
          summary: "Result cache hit rate is {{ $value | humanizePercentage }}"
      - alert: CacheHitRateCritical
        expr: sum(rate(ai_cache_hits_total[15m])) / (sum(rate(ai_cache_hits_total[15m])) + sum(rate(ai_cache_misses_total[15m]))) < 0.5
        for: 15m
        labels: { severity: critical }
        annotations:
          summary: "Result cache hit rate is {{ $value | humanizePercentage }}"
      # API p95 > 500 ms warning, > 1000 ms critical, on every route (the route template, summed over processes).
      - alert: ApiLatencyHigh
        expr: histogram_quantile(0.95, sum by (le, method, route) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5
        for: 10m
        labels: { severity: warning }
        annotations:
          summary: "{{ $labels.method }} {{ $labels.route }} p95 is {{ $value | humanizeDuration }}"
      - alert: ApiLatencyCritical
        expr: histogram_quantile(0.95, sum by (le, method, route) (rate(http_request_duration_seconds_bucket[5m]))) > 1
        for: 10m
        labels: { severity: critical }
        annotations:
          summary: "{{ $labels.method }} {{ $labels.route }} p95 is {{ $value | humanizeDuration }}"
`;
