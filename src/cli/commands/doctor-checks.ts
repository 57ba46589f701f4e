import type { Client } from "../client.ts";
import type { Finding } from "./doctor.ts";

/** Thresholds of the seeds' troubleshooting sections; flags of `sluice doctor` override them. */
export interface DoctorThresholds {
  /** Seed 000: `ai_backlog_items < 1000` is normal (WARN above), the alert fires above 10000 (FAIL). */
  backlogWarn: number;
  backlogFail: number;
  /** Seed 004 §7.3: cache hit rate < 70 % warning, < 50 % critical; judged after this many lookups. */
  cacheMinLookups: number;
  /** Clock difference between a process's reports and the server's clock worth a WARN. */
  clockSkewSeconds: number;
}

export const DEFAULT_THRESHOLDS: DoctorThresholds = { backlogWarn: 1_000, backlogFail: 10_000, cacheMinLookups: 20, clockSkewSeconds: 5 };

/** A fleet report refreshes at least every 10 s and lives 30 s: older than this means a clock behind. */
const REPORT_MAX_AGE_SECONDS = 30;

const ok = (check: string, evidence: string): Finding => ({ check, level: "OK", evidence, fix: "" });
const skipped = (check: string, status: number): Finding => ({
  check,
  level: "WARN",
  evidence: `not checked: the server answered ${status}`,
  fix: "give an operator key (--api-key)",
});

interface Backlog {
  by_workspace?: Array<{ workspace_id: string; status: string; count: number }>;
  stuck_batches?: Array<{ id: number; workspace_id: string | null; age_seconds: number; status: string }>;
}

/** Seed 000 "Investigare Backlog": pending items, and batches stuck over 2 h. */
export async function backlogFindings(client: Client, t: DoctorThresholds): Promise<Finding[]> {
  const { status, body } = await client.request<Backlog>("GET", "/api/embeddings/backlog");
  if (status !== 200) return [skipped("embeddings backlog", status)];
  const pending = (body.by_workspace ?? [])
    .filter((r) => r.status === "pending" || r.status === "failed")
    .reduce((sum, r) => sum + Number(r.count), 0);
  const level = pending > t.backlogFail ? "FAIL" : pending > t.backlogWarn ? "WARN" : "OK";
  const backlog: Finding =
    level === "OK"
      ? ok("embeddings backlog", `${pending} pending or failed items`)
      : {
          check: "embeddings backlog",
          level,
          evidence: `${pending} pending or failed items (> ${level === "FAIL" ? t.backlogFail : t.backlogWarn})`,
          fix: "sluice backlog; check workers and the provider (sluice doctor: breaker, rate limit); sluice reindex --failed",
        };
  const stuck = body.stuck_batches ?? [];
  const batches: Finding =
    stuck.length === 0
      ? ok("stuck batches", "none older than 2 h")
      : {
          check: "stuck batches",
          level: "WARN",
          evidence: `${stuck.length} batch(es) still ${stuck[0]?.status} after ${Math.round((stuck[0]?.age_seconds ?? 0) / 3600)} h or more (ids ${stuck.map((b) => b.id).join(", ")})`,
          fix: "sluice backlog; the worker re-claims stale claims; else re-queue: sluice reindex --workspace <id>",
        };
  return [backlog, batches];
}

interface AttemptError {
  last_error: string | null;
  earlier_errors?: string[];
}

/** Seed 000 "Queue ai-batch-queue stalled", seed 001 AIJobProcessingStalled: jobs whose worker lost its lock. */
export async function stalledFindings(client: Client, queues: string[]): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const queue of queues) {
    const { status, body } = await client.request<{ errors?: AttemptError[] }>(
      "GET",
      `/api/queues/${encodeURIComponent(queue)}/errors?limit=100`,
    );
    if (status !== 200) continue;
    const stalled = (body.errors ?? []).filter((e) =>
      [e.last_error, ...(e.earlier_errors ?? [])].some((m) => /stalled/i.test(m ?? "")),
    ).length;
    if (stalled > 0)
      findings.push({
        check: `stalled jobs ${queue}`,
        level: "WARN",
        evidence: `${stalled} of the last 100 failing jobs stalled (a worker died or blocked its event loop past the lock)`,
        fix: `sluice queues errors ${queue}; raise QUEUE_LOCK_DURATION_MS for long jobs; sluice retry ${queue}`,
      });
  }
  return findings.length > 0 ? findings : [ok("stalled jobs", "no stalled job among recent errors")];
}

interface Breaker {
  provider: string;
  model: string;
  state: string;
  reported_by?: string[];
}
interface RateLimit {
  provider: string;
  model: string;
  remaining_requests?: number;
  remaining_tokens?: number;
}
interface LlmHealth {
  breakers?: Breaker[];
  rate_limits?: RateLimit[];
  last_error?: { code: string; message: string } | null;
  fleet?: { processes?: Array<{ reporter: { id: string; host?: string; pid?: number }; at: string }> };
}

/** Seed 003 §3.2 "LLM API down" / "rate limited": breakers and the provider's remaining quota. */
function providerFindings(body: LlmHealth): Finding[] {
  const open = (body.breakers ?? []).filter((b) => b.state !== "closed");
  const breaker: Finding =
    open.length === 0
      ? ok("breakers", `${(body.breakers ?? []).length} route(s) closed`)
      : {
          check: "breakers",
          level: open.some((b) => b.state === "open") ? "FAIL" : "WARN",
          evidence: `${open.map((b) => `${b.provider}/${b.model} ${b.state}`).join(", ")}${body.last_error ? `; last error ${body.last_error.code}: ${body.last_error.message}` : ""}`,
          fix: "curl $SLUICE/health/llm; wait for the half-open probe, or switch: sluice flags set provider.<name>.enabled false --reason …",
        };
  const low = (body.rate_limits ?? []).filter(
    (r) => r.remaining_requests === 0 || r.remaining_requests === 1 || (r.remaining_tokens !== undefined && r.remaining_tokens < 1_000),
  );
  const limits: Finding =
    low.length === 0
      ? ok("provider rate limit", (body.rate_limits ?? []).length === 0 ? "no limit reported" : "headroom left")
      : {
          check: "provider rate limit",
          level: "WARN",
          evidence: low
            .map((r) => `${r.provider}/${r.model}: ${r.remaining_requests ?? "?"} requests, ${r.remaining_tokens ?? "?"} tokens left`)
            .join("; "),
          fix: "lower AI_ROUTE_LIMITS or QUEUE_CONCURRENCY; the route pauses itself on 429 until the reset",
        };
  return [breaker, limits];
}

/** Each process's latest report against the server's clock (its HTTP Date header). */
function clockFindings(body: LlmHealth, serverNow: number, t: DoctorThresholds): Finding {
  const skewed = (body.fleet?.processes ?? []).flatMap((p) => {
    const ahead = (Date.parse(p.at) - serverNow) / 1000;
    if (ahead > t.clockSkewSeconds) return [`${p.reporter.id} ${Math.round(ahead)} s ahead`];
    if (-ahead > REPORT_MAX_AGE_SECONDS + t.clockSkewSeconds) return [`${p.reporter.id} ${Math.round(-ahead)} s behind`];
    return [];
  });
  if (skewed.length === 0)
    return ok("clock skew", `${(body.fleet?.processes ?? []).length} process(es) within ${t.clockSkewSeconds} s of the server`);
  return {
    check: "clock skew",
    level: "WARN",
    evidence: skewed.join("; "),
    fix: "sync the clocks (chronyc tracking / timedatectl timesync-status) on those hosts: deadlines, schedules and rate windows use them",
  };
}

export async function llmFindings(client: Client, t: DoctorThresholds): Promise<Finding[]> {
  const started = Date.now();
  const { body, date } = await client.request<LlmHealth>("GET", "/health/llm");
  const dateHeader = Date.parse(date ?? "");
  // The Date header has whole seconds: take the middle of the second it names.
  const serverNow = Number.isNaN(dateHeader) ? started : dateHeader + 500;
  return [...providerFindings(body), clockFindings(body, serverNow, t)];
}

/** Seed 004 §7.3: hit rate < 70 % warning, < 50 % critical. */
export async function cacheFinding(client: Client, t: DoctorThresholds): Promise<Finding[]> {
  const { status, body } = await client.request<{ enabled?: boolean; hits?: number; misses?: number }>("GET", "/api/cache/stats");
  if (status !== 200) return [skipped("cache hit rate", status)];
  const lookups = (body.hits ?? 0) + (body.misses ?? 0);
  if (body.enabled === false || lookups < t.cacheMinLookups)
    return [ok("cache hit rate", `${lookups} lookups (judged from ${t.cacheMinLookups})`)];
  const rate = (body.hits ?? 0) / lookups;
  const evidence = `${(rate * 100).toFixed(0)}% of ${lookups} lookups hit`;
  if (rate >= 0.7) return [ok("cache hit rate", evidence)];
  return [
    {
      check: "cache hit rate",
      level: rate < 0.5 ? "FAIL" : "WARN",
      evidence: `${evidence} (< ${rate < 0.5 ? 50 : 70}%)`,
      fix: "sluice cache warm <file>; raise CACHE_TTL_SECONDS; check CACHE_MAX_ENTRIES / the cache Redis maxmemory",
    },
  ];
}

/** Seed 003 §1.3: a schedule that has not run for two days. */
export async function scheduleFindings(client: Client): Promise<Finding[]> {
  const { status, body } = await client.request<{
    schedules?: Array<{ name: string; health: string; last_run_at: string | null; target?: { workspace: string } }>;
  }>("GET", "/api/schedules");
  if (status !== 200) return [skipped("schedules", status)];
  const stale = (body.schedules ?? []).filter((s) => s.health === "STALE");
  if (stale.length === 0) return [ok("schedules", `${(body.schedules ?? []).length} schedule(s), none stale`)];
  return [
    {
      check: "schedules",
      level: "WARN",
      evidence: `STALE: ${stale.map((s) => `${s.name} (last run ${s.last_run_at ?? "never"})`).join(", ")}`,
      fix: `sluice schedules --stale; check the sluice-schedules queue has a worker; re-save it: sluice schedules set ${stale[0]?.name ?? "<name>"} …`,
    },
  ];
}

/** Seed 003 HITL: approval tasks past their deadline (`hitl_sla_breached_total`), and overdue pending ones of the key's workspace. */
export async function slaFindings(client: Client): Promise<Finding[]> {
  const overdue = await client.request<{ total?: number }>("GET", "/api/approvals?status=pending&overdue=true&limit=1");
  const metrics = await client.request<string>("GET", "/metrics");
  const breached =
    typeof metrics.body === "string"
      ? [...metrics.body.matchAll(/^hitl_sla_breached_total(?:\{[^}]*\})? (\S+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
      : 0;
  const pending = overdue.status === 200 ? (overdue.body.total ?? 0) : 0;
  if (breached === 0 && pending === 0) return [ok("approval SLAs", "no overdue approval task")];
  return [
    {
      check: "approval SLAs",
      level: "WARN",
      evidence: `${pending} pending task(s) past due_at; ${breached} SLA breach(es) counted`,
      fix: "sluice approvals list --overdue; decide or reassign them: sluice approvals reassign <id> <assignee>",
    },
  ];
}
