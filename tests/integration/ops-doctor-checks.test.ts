import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Finding } from "../../src/cli/commands/doctor.ts";
import { openFleetReports } from "../../src/wiring.ts";
import { runCliAsync } from "../harness/cli.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep } from "../harness/wait.ts";

const find = (findings: Finding[], check: string): Finding | undefined => findings.find((f) => f.check === check);

/** The doctor's checks behind the seeds' troubleshooting sections, each turned WARN/FAIL by real state. */
describe("sluice doctor: backlog, schedules, SLAs, breakers, rate limits, clock skew", () => {
  let t: TestSluice;
  let env: Record<string, string>;

  beforeAll(async () => {
    // The backfill is off, so ingested items stay pending: a backlog that does not drain.
    t = await startTestSluice({ OPENAI_EMBEDDING_BACKFILL_ENABLED: "false" });
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    const key = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator", "admin"] })).secret;
    env = { SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }), SLUICE_API_KEY: key };
    const call = async (method: "PUT" | "POST", url: string, payload: unknown): Promise<void> => {
      const res = await t.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        payload: payload as Record<string, unknown>,
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
    };
    await call("PUT", "/api/workspaces/ops/items", { items: [1, 2, 3].map((i) => ({ id: `p${i}`, text: `product ${i}` })) });
    // A schedule created three days ago that never ran: STALE after SCHEDULES_STALE_AFTER_SECONDS (2 days).
    await call("PUT", "/api/schedules/nightly-digest", {
      cron: "0 3 1 1 *",
      target: { kind: "task", name: "llm.complete", input: { prompt: "hi" } },
    });
    await t.sluice.store.query("UPDATE schedules SET created_at = now() - interval '3 days' WHERE name = $1", ["nightly-digest"]);
    // An approval task due in 1 s and left undecided.
    await call("PUT", "/api/approval-types/refund", { sla_seconds: 1 });
    await call("POST", "/api/approvals", { approval_type: "refund", due_in_seconds: 1 });
    await sleep(1_500);
  });
  afterAll(async () => {
    await t.close();
  });

  it("reports each as OK while the state is healthy enough for its threshold", async () => {
    const result = await runCliAsync(["doctor", "--json", "--backlog-warn", "5"], env);
    const findings = JSON.parse(result.stdout) as Finding[];
    expect(find(findings, "embeddings backlog")).toMatchObject({ level: "OK", evidence: "3 pending or failed items" });
    expect(find(findings, "stuck batches")).toMatchObject({ level: "OK" });
    expect(find(findings, "breakers")).toMatchObject({ level: "OK" });
    expect(find(findings, "provider rate limit")).toMatchObject({ level: "OK" });
    expect(find(findings, "clock skew")).toMatchObject({ level: "OK" });
    expect(find(findings, "cache hit rate")).toMatchObject({ level: "OK" });
    expect(find(findings, "stalled jobs")).toMatchObject({ level: "OK" });
  });

  it("WARNs on a backlog over its threshold, a stale schedule and an overdue approval, each with its fix", async () => {
    const result = await runCliAsync(["doctor", "--json", "--backlog-warn", "2", "--backlog-fail", "100"], env);
    const findings = JSON.parse(result.stdout) as Finding[];
    expect(find(findings, "embeddings backlog")).toMatchObject({ level: "WARN", evidence: "3 pending or failed items (> 2)" });
    expect(find(findings, "embeddings backlog")?.fix).toMatch(/sluice backlog/);
    expect(find(findings, "schedules")).toMatchObject({ level: "WARN" });
    expect(find(findings, "schedules")?.evidence).toMatch(/STALE: nightly-digest \(last run never\)/);
    expect(find(findings, "approval SLAs")).toMatchObject({ level: "WARN" });
    expect(find(findings, "approval SLAs")?.evidence).toMatch(/^1 pending task\(s\) past due_at/);
    expect(find(findings, "approval SLAs")?.fix).toMatch(/sluice approvals list --overdue/);
    const fail = await runCliAsync(["doctor", "--json", "--backlog-warn", "1", "--backlog-fail", "2"], env);
    expect(find(JSON.parse(fail.stdout) as Finding[], "embeddings backlog")).toMatchObject({ level: "FAIL" });
    expect(fail.status).toBe(1);
  });

  it("sees another process's open breaker, exhausted rate limit and clock ahead through the fleet reports", async () => {
    // What a worker on another host publishes (the same port and topic /health/llm merges): its clock 2 min ahead.
    const reports = openFleetReports(undefined, t.sluice.store);
    const at = new Date(Date.now() + 120_000).toISOString();
    const view = {
      reporter: { id: "far-host:4242:beef", host: "far-host", pid: 4242 },
      at,
      breakers: [{ provider: "local", model: "gpt-4o-mini", state: "open" }],
      lastError: { code: "PROVIDER_UNAVAILABLE", message: "503 from upstream" },
      rateLimits: [{ provider: "local", model: "gpt-4o-mini", at, remainingRequests: 0, remainingTokens: 120 }],
    };
    await reports.publish("llm-health", view.reporter.id, JSON.stringify(view), 60);
    const result = await runCliAsync(["doctor", "--json"], env);
    expect(result.status).toBe(1);
    const findings = JSON.parse(result.stdout) as Finding[];
    expect(find(findings, "breakers")).toMatchObject({ level: "FAIL" });
    expect(find(findings, "breakers")?.evidence).toMatch(/local\/gpt-4o-mini open/);
    expect(find(findings, "provider rate limit")).toMatchObject({ level: "WARN" });
    expect(find(findings, "provider rate limit")?.evidence).toMatch(/0 requests, 120 tokens left/);
    expect(find(findings, "clock skew")).toMatchObject({ level: "WARN" });
    expect(find(findings, "clock skew")?.evidence).toMatch(/far-host:4242:beef 1[12]\d s ahead/);
    const table = await runCliAsync(["doctor"], env);
    expect(table.stdout).toMatch(/^FAIL\s+breakers\s+/m);
  });
});

describe("sluice doctor: a queue Redis that evicts", () => {
  let redis: RunningServer;
  let t: TestSluice;

  beforeAll(async () => {
    redis = await startRedis({ args: ["--maxmemory-policy", "allkeys-lru"] });
    t = await startTestSluice({ REDIS_URL: redis.url, REDIS_ALLOW_EVICTION: "true" });
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it("is a FAIL with the CONFIG SET that fixes it", async () => {
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    const key = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    const result = await runCliAsync(["doctor", "--json"], {
      SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }),
      SLUICE_API_KEY: key,
    });
    expect(result.status).toBe(1);
    expect(find(JSON.parse(result.stdout) as Finding[], "redis eviction")).toMatchObject({
      level: "FAIL",
      evidence: "maxmemory-policy allkeys-lru",
      fix: "redis-cli -u $REDIS_URL CONFIG SET maxmemory-policy noeviction",
    });
  });
});
