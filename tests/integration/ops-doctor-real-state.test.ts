import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Finding } from "../../src/cli/commands/doctor.ts";
import type { CrashWorkerConfig } from "../fixtures/queue-crash-worker.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { createFakeBatches } from "../fakes/provider-server/batches.ts";
import { runCliAsync } from "../harness/cli.ts";
import { redisUrl } from "../harness/databases.ts";
import { compiledFixture } from "../harness/fixtures.ts";
import { spawnTracked } from "../harness/processes.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/**
 * `sluice doctor`'s stalled-jobs, stuck-batches, cache-hit-rate and breaker checks seen WARN/FAIL
 * on state that really happened: worker processes SIGKILLed mid-job until BullMQ fails the job for
 * stalling, an embeddings batch the provider never finishes, cache lookups that miss, and an
 * outage of the (fake) provider that opens the breaker. Each finding carries its fix command.
 * Redis logical database 56.
 */
const REDIS_DB = 56;
const find = (findings: Finding[], check: string): Finding | undefined => findings.find((f) => f.check === check);

async function doctor(env: Record<string, string>, ...args: string[]): Promise<{ status: number | null; findings: Finding[] }> {
  const result = await runCliAsync(["doctor", "--json", ...args], env);
  return { status: result.status, findings: JSON.parse(result.stdout) as Finding[] };
}

async function operatorEnv(t: TestSluice): Promise<Record<string, string>> {
  await t.sluice.intake.ensureWorkspace("ops", "Ops", { rateLimitPerMinute: 100_000 });
  const key = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator", "admin", "jobs:write", "jobs:read"] })).secret;
  return { SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }), SLUICE_API_KEY: key };
}

/** A worker process (tests/fixtures/queue-crash-worker.ts) that takes jobs and never finishes them; resolves once it holds one. */
async function hangingWorker(config: CrashWorkerConfig): Promise<ChildProcess> {
  const child = spawnTracked(process.execPath, [compiledFixture("queue-crash-worker")], {
    env: { ...process.env, CRASH_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the worker took no job in 30 s")), 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.includes('"started"')) return;
      clearTimeout(timer);
      resolve();
    });
  });
  return child;
}

describe("sluice doctor: a job that really stalled", () => {
  let t: TestSluice;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    const redis = new Redis(redisUrl(REDIS_DB));
    await redis.flushdb();
    redis.disconnect();
    t = await startTestSluice({ REDIS_URL: redisUrl(REDIS_DB), QUEUES: "crashq" });
    env = await operatorEnv(t);
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await t?.close();
  });

  it("WARNs with the queue's errors and retry commands once a job fails for stalling (workers SIGKILLed mid-job)", async () => {
    expect(find((await doctor(env)).findings, "stalled jobs")).toMatchObject({ level: "OK" });
    await t.sluice.queues.add("crashq", "crash", { i: 1 });
    const config: CrashWorkerConfig = {
      kind: "redis",
      target: redisUrl(REDIS_DB),
      queue: "crashq",
      mode: "hang",
      concurrency: 1,
      lockDuration: 1_000,
      stalledInterval: 500,
    };
    // Two workers die holding the job: the stalled check requeues it once (maxStalledCount 1), and
    // the second stall fails it; a third worker's stalled check and fetch settle that failure.
    for (let i = 0; i < 2; i++) {
      const child = await hangingWorker(config);
      children.push(child);
      child.kill("SIGKILL");
    }
    children.push(
      spawnTracked(process.execPath, [compiledFixture("queue-crash-worker")], {
        env: { ...process.env, CRASH_WORKER_CONFIG: JSON.stringify(config) },
        stdio: "ignore",
      }),
    );
    const [failed] = await until(
      async () => (await t.sluice.queues.jobs("crashq", "failed")).jobs,
      (jobs) => jobs.length === 1,
      30_000,
      "the job failed for stalling",
    );
    expect(failed?.failedReason).toMatch(/stalled/i);

    const { findings } = await doctor(env);
    expect(find(findings, "stalled jobs crashq")).toEqual({
      check: "stalled jobs crashq",
      level: "WARN",
      evidence: "1 of the last 100 failing jobs stalled (a worker died or blocked its event loop past the lock)",
      fix: "sluice queues errors crashq; raise QUEUE_LOCK_DURATION_MS for long jobs; sluice retry crashq",
    });
    expect(find(findings, "stalled jobs")).toBeUndefined();
  });
});

describe("sluice doctor: a stuck batch, a cold cache and an open breaker", () => {
  let t: TestSluice;
  let fake: FakeProviderServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    fake = await startFakeProviderServer();
    const batches = createFakeBatches(fake.state);
    fake.addRoutes(batches.routes);
    batches.behave({ kind: "stuck" });
    t = await startTestSluice({
      AI_PROVIDER: "openai",
      AI_EMBEDDING_PROVIDER: "openai",
      OPENAI_BASE_URL: fake.openaiBaseUrl,
      OPENAI_API_KEY: "sk-test",
      EMBEDDING_BATCH_MODE: "openai",
      EMBEDDING_BACKFILL_SWEEP_MS: "250",
      AI_MAX_ATTEMPTS: "2",
      AI_RETRY_BASE_DELAY_MS: "10",
      AI_BREAKER_THRESHOLD: "2",
      AI_BREAKER_HALF_OPEN_AFTER_MS: "600000",
      CACHE_ENABLED: "true",
    });
    await t.sluice.startWorkers();
    env = await operatorEnv(t);
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it("stuck batches: WARN for a batch the provider keeps processing past 2 h, with the backlog and reindex commands", async () => {
    await t.sluice.intake.ensureWorkspace("shop-stuck", "Stuck");
    await t.sluice.embeddings.upsert(
      "shop-stuck",
      [1, 2, 3].map((i) => ({ externalId: `s${i}`, text: `stuck item ${i}` })),
    );
    const [open] = await until(
      async () => (await t.sluice.store.query<{ id: number; status: string }>("SELECT id, status FROM embedding_batches")).rows,
      (rows) => rows[0]?.status === "processing",
      20_000,
      "a batch in progress at the provider",
    );
    expect(find((await doctor(env)).findings, "stuck batches")).toMatchObject({ level: "OK" });
    // Two hours cannot pass in a test: the batch's submission is moved back three hours instead.
    await t.sluice.store.query("UPDATE embedding_batches SET submitted_at = now() - interval '3 hours' WHERE id = $1", [open?.id]);
    expect(find((await doctor(env)).findings, "stuck batches")).toEqual({
      check: "stuck batches",
      level: "WARN",
      evidence: `1 batch(es) still processing after 3 h or more (ids ${open?.id})`,
      fix: "sluice backlog; the worker re-claims stale claims; else re-queue: sluice reindex --workspace <id>",
    });
  });

  it("cache hit rate: FAIL under 50 %, WARN under 70 %, from lookups that miss", async () => {
    const fix = "sluice cache warm <file>; raise CACHE_TTL_SECONDS; check CACHE_MAX_ENTRIES / the cache Redis maxmemory";
    for (let i = 0; i < 20; i++) expect(await t.sluice.cache.lookup(`doctor:cold:${i}`, "embed")).toBeUndefined();
    expect(find((await doctor(env)).findings, "cache hit rate")).toEqual({
      check: "cache hit rate",
      level: "FAIL",
      evidence: "0% of 20 lookups hit (< 50%)",
      fix,
    });
    await t.sluice.cache.store("doctor:warm", { vector: [1] });
    for (let i = 0; i < 30; i++) expect(await t.sluice.cache.lookup("doctor:warm", "embed")).toEqual({ vector: [1] });
    const { status, findings } = await doctor(env);
    expect(find(findings, "cache hit rate")).toEqual({
      check: "cache hit rate",
      level: "WARN",
      evidence: "60% of 50 lookups hit (< 70%)",
      fix,
    });
    expect(findings.filter((f) => f.level === "FAIL")).toEqual([]);
    expect(status).toBe(0);
  });

  it("breakers: FAIL once the provider's 500s open the breaker, with the flag that switches the provider off", async () => {
    expect(find((await doctor(env)).findings, "breakers")).toMatchObject({ level: "OK" });
    fake.setOutage(true);
    const submit = await t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { authorization: `Bearer ${env.SLUICE_API_KEY}` },
      payload: { type: "llm.complete", input: { prompt: "are you there?" }, client_request_id: "outage-1" },
    });
    expect(submit.statusCode, submit.body).toBe(202);
    await until(
      async () => t.sluice.runtime.breakers(),
      (breakers) => breakers.some((b) => b.provider === "openai" && b.state === "open"),
      30_000,
      "the breaker open",
    );
    const { status, findings } = await doctor(env);
    expect(status).toBe(1);
    const breakers = find(findings, "breakers");
    expect(breakers).toMatchObject({
      level: "FAIL",
      fix: "curl $SLUICE/health/llm; wait for the half-open probe, or switch: sluice flags set provider.<name>.enabled false --reason …",
    });
    expect(breakers?.evidence).toMatch(/^openai\/gpt-4o-mini open; last error PROVIDER_\w+: /);
  });
});
