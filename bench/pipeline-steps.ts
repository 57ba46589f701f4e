/**
 * Pipeline runs on Redis queues + a PostgreSQL store, one comparable line each:
 *  1. step overhead: the p50 time between consecutive no-op `step.run` steps of one run (lookup,
 *     cancel check and the step's two writes), against the p50 add-to-done time of a bare no-op
 *     queue job on the same queue manager (target: a step costs no more than 2 ms at p50);
 *  2. runs started per second (`sluice.runs.start`, 50 at a time);
 *  3. N runs waiting for an event: worker slots they hold (active jobs on `sluice-runs`) and the
 *     process's memory before and after.
 *
 *   npx tsx bench/pipeline-steps.ts [--runs 10] [--steps 20] [--bare 200] [--starts 500] [--waiting 10000]
 *
 * Uses REDIS_URL / DATABASE_URL when set (DATABASE_URL gets a fresh database), else starts Debian's
 * redis-server and postgres on free ports like the tests do.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { definePipeline } from "../src/pipeline/runs/index.ts";
import { createSluice, type Sluice } from "../src/sluice.ts";
import { createDatabase, startPostgres, startRedis, uniqueName, type RunningServer } from "../tests/harness/servers.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    steps: { type: "string", default: "20" },
    bare: { type: "string", default: "200" },
    starts: { type: "string", default: "500" },
    waiting: { type: "string", default: "10000" },
  },
});
const WS = "bench";
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);

async function settle(sluice: Sluice, id: string): Promise<void> {
  await sluice.runs.waitFor(id, WS, 120_000);
}

async function stepOverhead(sluice: Sluice): Promise<number[]> {
  const deltas: number[] = [];
  for (let r = 0; r < Number(values.runs); r++) {
    const { id } = await sluice.runs.start({ pipeline: "steps", workspace: WS, input: { steps: Number(values.steps) } });
    await settle(sluice, id);
    const steps = (await sluice.runs.get(id)).steps ?? [];
    for (let i = 1; i < steps.length; i++)
      deltas.push((steps[i]?.finished_at?.getTime() ?? 0) - (steps[i - 1]?.finished_at?.getTime() ?? 0));
  }
  return deltas;
}

async function bareJobs(sluice: Sluice): Promise<number[]> {
  const done = new Map<string, () => void>();
  sluice.queues.declare("bench-bare");
  await sluice.queues.startWorker("bench-bare", async (job) => void done.get(String(job.data.n))?.(), { concurrency: 1 });
  const latencies: number[] = [];
  for (let n = 0; n < Number(values.bare); n++) {
    const finished = new Promise<void>((resolve) => done.set(String(n), resolve));
    const started = performance.now();
    await sluice.queues.add("bench-bare", "noop", { n });
    await finished;
    latencies.push(performance.now() - started);
  }
  return latencies;
}

async function startRate(sluice: Sluice): Promise<number> {
  const total = Number(values.starts);
  const started = performance.now();
  for (let i = 0; i < total; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, total - i) }, () => sluice.runs.start({ pipeline: "steps", workspace: WS, input: { steps: 1 } })),
    );
  }
  return total / ((performance.now() - started) / 1_000);
}

async function waitingRuns(
  sluice: Sluice,
): Promise<{ n: number; active: number; rssBefore: number; rssAfter: number; heapBefore: number; heapAfter: number }> {
  const n = Number(values.waiting);
  global.gc?.();
  const before = process.memoryUsage();
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, k) =>
        sluice.runs.start({ pipeline: "waits", workspace: WS, input: { key: `w-${i + k}` } }),
      ),
    );
  }
  for (;;) {
    const counts = await sluice.store.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pipeline_runs WHERE pipeline = 'waits' AND status = 'waiting'",
    );
    if ((counts.rows[0]?.n ?? 0) >= n) break;
    await sleep(200);
  }
  const active = (await sluice.queues.counts(sluice.runs.queue)).active;
  global.gc?.();
  const after = process.memoryUsage();
  return { n, active, rssBefore: before.rss, rssAfter: after.rss, heapBefore: before.heapUsed, heapAfter: after.heapUsed };
}

async function main(): Promise<void> {
  const servers: RunningServer[] = [];
  const redisUrl = process.env.REDIS_URL ?? servers[servers.push(await startRedis()) - 1]?.url ?? "";
  const pgServer = process.env.DATABASE_URL ?? servers[servers.push(await startPostgres()) - 1]?.url ?? "";
  const databaseUrl = await createDatabase(pgServer, uniqueName("benchruns"));
  const sluice = await createSluice({
    env: {
      LOG_LEVEL: "silent",
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      QUEUE_BACKEND: "redis",
      VECTOR_SEARCH_ENABLED: "false",
      QUEUE_CONCURRENCY: "50",
    },
  });
  try {
    sluice.pipeline(
      definePipeline({ name: "steps", input: z.object({ steps: z.number() }) }, async (input, step) => {
        for (let i = 0; i < input.steps; i++) await step.run(`s${i}`, () => i);
      }),
    );
    sluice.pipeline(
      definePipeline({ name: "waits", input: z.object({ key: z.string() }) }, async (input, step) =>
        step.waitForEvent("go", { event: "bench.go", match: { key: input.key } }),
      ),
    );
    await sluice.startWorkers();
    const steps = await stepOverhead(sluice);
    const bare = await bareJobs(sluice);
    console.log(
      `step overhead p50 ${p50(steps).toFixed(2)} ms/step (${steps.length} steps) vs bare queue job p50 ${p50(bare).toFixed(2)} ms (${bare.length} jobs), Redis queues + PostgreSQL store`,
    );
    console.log(`runs started: ${(await startRate(sluice)).toFixed(0)} runs/s (${values.starts}, 50 concurrent starts)`);
    const w = await waitingRuns(sluice);
    console.log(
      `${w.n} waiting runs: ${w.active} worker slots held; rss ${mb(w.rssBefore)} -> ${mb(w.rssAfter)} MB, heap ${mb(w.heapBefore)} -> ${mb(w.heapAfter)} MB`,
    );
  } finally {
    await sluice.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

await main();
