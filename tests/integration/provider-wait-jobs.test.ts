import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import type { JobSummary } from "../../src/pipeline/queues/types.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { startRedis, type RunningServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { describeAtOnce } from "../harness/cases-at-once.ts";

/**
 * Issue 8 item 4: a job the provider refuses for now (breaker open, a long Retry-After, a provider
 * switched off) waits, without spending a queue attempt, up to AI_MAX_WAIT_FOR_PROVIDER_MS. The
 * queue's own retries (3 attempts, 1 s exponential backoff) are spent in 2-4 s, so every case here
 * keeps the provider away longer than that: before the fix these jobs failed.
 */

const QUEUE = "ai-jobs";
const HALF_OPEN_MS = 4_000;

interface Env {
  t: TestSluice;
  key: string;
}

async function startSluice(fake: FakeProviderServer, redis: RunningServer, env: Record<string, string>): Promise<Env> {
  const t = await startTestSluice({
    REDIS_URL: redis.url,
    AI_PROVIDER: "openai",
    OPENAI_BASE_URL: fake.openaiBaseUrl,
    OPENAI_API_KEY: "sk-test",
    AI_RETRY_BASE_DELAY_MS: "10",
    AI_BREAKER_HALF_OPEN_AFTER_MS: String(HALF_OPEN_MS),
    CACHE_ENABLED: "false",
    ...env,
  });
  await t.sluice.startWorkers();
  await t.sluice.intake.ensureWorkspace("ws", "WS", { rateLimitPerMinute: 100_000 });
  const key = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["jobs:write", "jobs:read"] })).secret;
  return { t, key };
}

let seq = 0;
async function submit({ t, key }: Env, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const payload = { type: "llm.complete", input: { prompt: `hello ${++seq}` }, client_request_id: `r-${seq}` };
    const res = await t.app.inject({ method: "POST", url: "/ai/jobs", headers: { authorization: `Bearer ${key}` }, payload });
    if (res.statusCode !== 202) throw new Error(`submit failed: ${res.statusCode} ${res.body}`);
    ids.push(res.json<{ id: string }>().id);
  }
  return ids;
}

async function jobs({ t }: Env, ids: readonly string[]): Promise<JobSummary[]> {
  const found = await Promise.all(ids.map((id) => t.sluice.queues.findJob(QUEUE, id)));
  return found.map((job, i) => {
    if (!job) throw new Error(`job ${ids[i]} is lost`);
    return job;
  });
}

/** Waits until every job has completed or failed. */
async function settled(env: Env, ids: readonly string[], timeoutMs = 40_000): Promise<JobSummary[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await jobs(env, ids);
    if (all.every((j) => j.state === "completed" || j.state === "failed")) return all;
    if (Date.now() > deadline) throw new Error(`not settled: ${all.map((j) => `${j.id}=${j.state}`).join(", ")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const states = (all: readonly JobSummary[]) =>
  all.reduce<Record<string, number>>((acc, j) => ({ ...acc, [j.state]: (acc[j.state] ?? 0) + 1 }), {});

// Each suite has its own provider and Redis, so the two run at once: their cases mostly wait out outages.
describeAtOnce("jobs wait for the provider instead of failing (AI_FALLBACK_PROVIDER=none)", () => {
  let fake: FakeProviderServer;
  let redis: RunningServer;
  let env: Env;
  beforeAll(async () => {
    [fake, redis] = await Promise.all([startFakeProviderServer(), startRedis()]);
    env = await startSluice(fake, redis, {
      AI_MAX_WAIT_FOR_PROVIDER_MS: "60000",
      AI_MAX_RETRY_AFTER_MS: "1000",
      KILL_SWITCH_RECHECK_MS: "500",
    });
  });
  afterAll(async () => {
    await env?.t.close();
    await Promise.all([fake?.close(), redis?.stop()]);
  });
  beforeEach(() => {
    fake.reset();
    // Each case ends with its jobs completed, so the breaker is closed again.
    expect(env.t.sluice.runtime.breakers().every((b) => b.state === "closed")).toBe(true);
  });

  it("5 x HTTP 500 then a healthy provider: every job completes, refused jobs spend no attempt", async () => {
    fake.failNext(5, 500);
    const ids = await submit(env, 20);
    const all = await settled(env, ids);
    expect(states(all)).toEqual({ completed: 20 });
    expect(fake.stats.byStatus["500"]).toBe(5);
    // BullMQ counts the run that completes a job in attemptsMade, so 1 is "no attempt spent". With
    // AI_MAX_ATTEMPTS=4, only a job that drew 4 of the 5 errors spent a (real) attempt.
    expect(all.filter((j) => j.attemptsMade > 1).length).toBeLessThanOrEqual(1);
    expect(Math.max(...all.map((j) => j.attemptsMade))).toBeLessThanOrEqual(2);
  });

  it("an outage longer than the half-open time: 0 failed, jobs refused by the breaker keep all their attempts", async () => {
    fake.setOutage(true);
    const [opener = ""] = await submit(env, 1);
    await until(() => env.t.sluice.runtime.breakers().some((b) => b.state === "open"), "the breaker to open");
    const during = await submit(env, 20);
    // A half-open trial fails during the outage (and re-opens the breaker) before it ends.
    await new Promise((r) => setTimeout(r, HALF_OPEN_MS + 1_500));
    const waiting = await jobs(env, during);
    expect(states(waiting)).toEqual({ delayed: 20 });
    for (const job of waiting) expect(job.attemptsMade, job.id).toBe(0);
    fake.setOutage(false);
    const after = await submit(env, 10); // the breaker is still open: these wait too
    const all = await settled(env, [opener, ...during, ...after]);
    expect(states(all)).toEqual({ completed: 31 });
    // attemptsMade 1: the run that completed it (BullMQ counts it), none spent while waiting.
    for (const job of all.slice(1)) expect(job.attemptsMade, job.id).toBe(1);
    expect(all[0]?.attemptsMade).toBeLessThanOrEqual(2); // its own 4 calls failed: a real attempt
  });

  it("a 429 with a Retry-After beyond AI_MAX_RETRY_AFTER_MS delays the jobs to that time instead of failing them", async () => {
    fake.rateLimitNext({ count: 1_000, retryAfterSeconds: 4 }); // the provider refuses everything for 4 s
    const submittedAt = Date.now();
    const ids = await submit(env, 10);
    await until(async () => (await jobs(env, ids)).every((j) => j.state === "delayed"), "every job to be delayed");
    const refusedFirst = fake.stats.rateLimited;
    // Still waiting well into the Retry-After, with no attempt spent and no call made meanwhile.
    await new Promise((r) => setTimeout(r, Math.max(0, submittedAt + 3_000 - Date.now())));
    const delayed = await jobs(env, ids);
    expect(states(delayed)).toEqual({ delayed: 10 });
    for (const job of delayed) expect(job.attemptsMade).toBe(0);
    expect(fake.stats.rateLimited).toBe(refusedFirst);
    await new Promise((r) => setTimeout(r, Math.max(0, submittedAt + 4_000 - Date.now())));
    const refused = fake.stats.rateLimited;
    fake.reset(); // the provider's window has passed
    const all = await settled(env, ids);
    expect(states(all)).toEqual({ completed: 10 });
    for (const job of all) expect(job.attemptsMade).toBe(1); // the completing run only
    expect(refused).toBeGreaterThanOrEqual(1);
  });

  it("a provider switched off with no fallback holds its jobs until it is switched on again", async () => {
    const actor = { actor: "test", reason: "provider incident" };
    await env.t.sluice.flags.set("provider.openai.enabled", false, actor);
    await env.t.sluice.killSwitches.syncProviders();
    const ids = await submit(env, 5);
    await new Promise((r) => setTimeout(r, 4_000)); // longer than the queue's 3 attempts take
    const held = await jobs(env, ids);
    expect(states(held)).toEqual({ delayed: 5 });
    for (const job of held) expect(job.attemptsMade).toBe(0);
    expect(fake.stats.requests).toBe(0);
    await env.t.sluice.flags.unset("provider.openai.enabled", actor);
    await env.t.sluice.killSwitches.syncProviders();
    const all = await settled(env, ids);
    expect(states(all)).toEqual({ completed: 5 });
    for (const job of all) expect(job.attemptsMade).toBe(1);
  });
});

describeAtOnce("a job that has waited AI_MAX_WAIT_FOR_PROVIDER_MS fails with MAX_WAIT_EXCEEDED", () => {
  let fake: FakeProviderServer;
  let redis: RunningServer;
  let env: Env;
  beforeAll(async () => {
    [fake, redis] = await Promise.all([startFakeProviderServer(), startRedis()]);
    env = await startSluice(fake, redis, { AI_MAX_WAIT_FOR_PROVIDER_MS: "5000", AI_BREAKER_HALF_OPEN_AFTER_MS: "1000" });
  });
  afterAll(async () => {
    await env?.t.close();
    await Promise.all([fake?.close(), redis?.stop()]);
  });

  it("fails after the maximum wait, with the new code, not before", async () => {
    fake.reset();
    fake.setOutage(true);
    const started = Date.now();
    const ids = await submit(env, 3);
    const all = await settled(env, ids, 30_000);
    expect(states(all)).toEqual({ failed: 3 });
    for (const job of all) {
      expect(job.failedReason).toMatch(/^MAX_WAIT_EXCEEDED: /);
      expect(job.timestamps.finished ?? 0).toBeGreaterThanOrEqual(started + 5_000);
    }
  });
});
