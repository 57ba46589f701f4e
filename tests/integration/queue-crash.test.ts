import { rmSync } from "node:fs";
import { afterAll, describe, expect, inject, it } from "vitest";
import pg from "pg";
import { Redis } from "ioredis";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { createPrometheusMetrics } from "../../src/adapters/metrics/prometheus.ts";
import { createQueueBackend, type QueueBackendOptions } from "../../src/adapters/queue/index.ts";
import { openPglite } from "../../src/adapters/store/pglite/open.ts";
import { createQueueManager, type QueueManager } from "../../src/pipeline/queues/queue-manager.ts";
import { startCrashWorker, type CrashWorker, type WorkerEvent } from "../harness/crash-worker.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { seedPgliteDataDir } from "../harness/pglite-template.ts";
import type { CrashWorkerConfig } from "../fixtures/queue-crash-worker.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

/**
 * At-least-once under a crash, on every backend: a worker process is SIGKILLed while it holds
 * jobs; once their locks expire another worker process re-runs each of them exactly once more,
 * and every job completes exactly once. Lock 2 s and stall check 1 s keep this to seconds
 * (production defaults are 30 s each; see docs/queues.md).
 */
const JOBS = 20;
const CONCURRENCY = 5;
const TIMING = { lockDuration: 2_000, stalledInterval: 1_000 };

interface ChildEvent extends WorkerEvent {
  id?: string;
}

const startChild = (config: CrashWorkerConfig): CrashWorker<ChildEvent> =>
  startCrashWorker<ChildEvent>("queue-crash-worker", { CRASH_WORKER_CONFIG: JSON.stringify(config) });

const ids = (events: ChildEvent[], kind: string) => events.filter((e) => e.event === kind).map((e) => String(e.id));
const tally = (list: string[]) => list.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());

async function openManager(options: QueueBackendOptions): Promise<{ manager: QueueManager; close: () => Promise<void> }> {
  const backend = await createQueueBackend(options);
  const manager = createQueueManager({
    backend,
    metrics: createPrometheusMetrics({ processMetrics: false }),
    logger: createLogger({ level: "silent" }),
  });
  return { manager, close: async () => (await manager.close(), await backend.close()) };
}

/** Kills the first worker mid-job, lets a second finish everything, returns what each did. */
async function crashAndRecover(
  first: CrashWorkerConfig,
  second: CrashWorkerConfig,
): Promise<{ interrupted: string[]; rerun: Map<string, number>; completedBy2: string[] }> {
  const one = startChild(first);
  const children = [one];
  try {
    await one.waitFor((e) => ids(e, "started").length >= CONCURRENCY, `${CONCURRENCY} jobs to start in worker 1`);
    await one.kill();
    const interrupted = ids(one.events, "started");
    const two = startChild(second);
    children.push(two);
    await two.waitFor((e) => e.some((x) => x.event === "done"), "worker 2 to finish every job");
    return { interrupted, rerun: tally(ids(two.events, "started")), completedBy2: ids(two.events, "completed") };
  } finally {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill("SIGKILL");
  }
}

function expectExactlyOnceMore(result: Awaited<ReturnType<typeof crashAndRecover>>, completions: Map<string, number>): void {
  expect(result.interrupted).toHaveLength(CONCURRENCY);
  for (const id of result.interrupted) expect(result.rerun.get(id), `job ${id} re-runs`).toBe(1);
  expect([...result.rerun.values()].every((n) => n === 1)).toBe(true);
  expect(result.rerun.size).toBe(JOBS);
  expect(completions.size).toBe(JOBS);
  expect([...completions.values()].every((n) => n === 1)).toBe(true);
}

// Its cases share nothing (each its own queue prefix or database) and mostly wait for locks to expire: run at once.
describe.concurrent("Crash safety: a worker SIGKILLed mid-job loses nothing", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it("on Redis", async () => {
    const url = inject("redisUrl");
    const prefix = `crash-${process.pid}-${Date.now()}`;
    const base = { kind: "redis", target: url, prefix, queue: "crash", concurrency: CONCURRENCY, ...TIMING } as const;
    const { manager, close } = await openManager({ kind: "redis", url, prefix });
    cleanups.push(close);
    manager.declare("crash");
    await manager.addBulk(
      "crash",
      Array.from({ length: JOBS }, (_, i) => ({ name: "crash", data: { i } })),
    );
    const result = await crashAndRecover({ ...base, mode: "hang" }, { ...base, mode: "complete", expect: JOBS });
    const redis = new Redis(url);
    cleanups.push(async () => void (await redis.quit()));
    const hash = await redis.hgetall(`${prefix}:crash:completions`);
    expectExactlyOnceMore(result, new Map(Object.entries(hash).map(([k, v]) => [k, Number(v)])));
    expect(await manager.counts("crash")).toMatchObject({ completed: JOBS, failed: 0, active: 0, waiting: 0 });
  });

  /** Where a stall-out case runs: the test's manager and the hanging child on the same queue store. */
  interface StallTarget {
    manager: QueueBackendOptions;
    child: Pick<CrashWorkerConfig, "kind" | "target" | "prefix">;
  }
  let stallCases = 0;
  const onRedis = async (): Promise<StallTarget> => {
    const url = inject("redisUrl");
    const prefix = `stallout-${process.pid}-${Date.now()}-${++stallCases}`;
    return { manager: { kind: "redis", url, prefix }, child: { kind: "redis", target: url, prefix } };
  };
  const onPostgres = async (): Promise<StallTarget> => {
    const connectionString = await freshPostgresDatabase("stallout");
    return { manager: { kind: "postgres", connectionString }, child: { kind: "postgres", target: connectionString } };
  };

  const stallOut = async (target: StallTarget, startAfterLockExpired: boolean) => {
    const { manager, close } = await openManager(target.manager);
    cleanups.push(close);
    manager.declare("stall");
    await manager.add("stall", "stall", { i: 1 });
    const hanging = startChild({ ...target.child, queue: "stall", mode: "hang", concurrency: 1, ...TIMING });
    try {
      await hanging.waitFor((e) => ids(e, "started").length === 1, "the job to start in the child");
      // Its own stalled check marks the job it holds; once the lock it no longer renews expires, the
      // next worker's very first check fails the job, in its first round trips.
      if (startAfterLockExpired) await new Promise((r) => setTimeout(r, TIMING.stalledInterval + 100));
      await hanging.kill();
    } finally {
      if (hanging.process.exitCode === null && hanging.process.signalCode === null) hanging.process.kill("SIGKILL");
    }
    if (startAfterLockExpired) await new Promise((r) => setTimeout(r, TIMING.lockDuration + 200));
    const told: Array<{ id: string | undefined; reason: string }> = [];
    let ran = 0;
    await manager.startWorker(
      "stall",
      async () => {
        ran++;
      },
      { ...TIMING, maxStalledCount: 0, onStalledOut: async (job) => void told.push({ id: job.id, reason: job.failedReason }) },
    );
    const deadline = Date.now() + 30_000;
    while (told.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 2 * TIMING.stalledInterval)); // a second report would come by now
    expect(told).toEqual([{ id: ids(hanging.events, "started")[0], reason: expect.stringMatching(/stalled/) }]);
    expect(ran).toBe(0);
    expect(await manager.counts("stall")).toMatchObject({ failed: 1, active: 0, waiting: 0 });
  };

  // The pipeline runs' stall handling (tests/integration/runs-stalled) is built on this, on every queue backend.
  for (const [name, target] of [
    ["Redis", onRedis],
    ["PostgreSQL", onPostgres],
  ] as const) {
    it(`on ${name}: a job the stalled check fails (maxStalledCount reached) is told to onStalledOut once, and no processor runs it`, async () =>
      stallOut(await target(), false));

    it(`on ${name}: a worker that fails such a job while it is still starting tells onStalledOut too`, async () =>
      stallOut(await target(), true));
  }

  it("on a PostgreSQL server", async () => {
    const connectionString = await freshPostgresDatabase("crash");
    const base = { kind: "postgres", target: connectionString, queue: "crash", concurrency: CONCURRENCY, ...TIMING } as const;
    const { manager, close } = await openManager({ kind: "postgres", connectionString });
    cleanups.push(close);
    manager.declare("crash");
    await manager.addBulk(
      "crash",
      Array.from({ length: JOBS }, (_, i) => ({ name: "crash", data: { i } })),
    );
    const result = await crashAndRecover({ ...base, mode: "hang" }, { ...base, mode: "complete", expect: JOBS });
    const client = new pg.Client({ connectionString });
    await client.connect();
    cleanups.push(() => client.end());
    const { rows } = await client.query<{ job_id: string; n: string }>(
      "SELECT job_id, count(*) AS n FROM crash_completions GROUP BY job_id",
    );
    expectExactlyOnceMore(result, new Map(rows.map((r) => [r.job_id, Number(r.n)])));
    expect(await manager.counts("crash")).toMatchObject({ completed: JOBS, failed: 0, active: 0, waiting: 0 });
  });

  it("on PGlite: the process dies, the next process on the same data folder finishes the jobs", async () => {
    const dataDir = fileTempDir("sluice-crash-pglite-");
    seedPgliteDataDir(dataDir);
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const base = { kind: "pglite", target: dataDir, queue: "crash", concurrency: CONCURRENCY, ...TIMING } as const;
    // One process per PGlite data folder: the first child owns it and adds the jobs itself.
    const result = await crashAndRecover({ ...base, mode: "hang", add: JOBS }, { ...base, mode: "complete", expect: JOBS });
    const db = await openPglite(dataDir);
    cleanups.push(() => db.close());
    const { rows } = await db.query<{ job_id: string; n: number }>(
      "SELECT job_id, count(*)::int AS n FROM crash_completions GROUP BY job_id",
    );
    expectExactlyOnceMore(result, new Map(rows.map((r) => [r.job_id, r.n])));
    const { manager, close } = await openManager({ kind: "pglite", db });
    cleanups.push(close);
    manager.declare("crash");
    expect(await manager.counts("crash")).toMatchObject({ completed: JOBS, failed: 0, active: 0, waiting: 0 });
  });
});
