/**
 * No-op jobs/s on one PostgreSQL server, side by side in the same run: BullMQ's Postgres backend
 * (what Sluice runs on), pg-boss and Graphile Worker as peers. Each gets a fresh database, the
 * same job count, and comparable parallelism (BullMQ: one worker at concurrency 50; pg-boss: 10
 * workers fetching batches of 50 every 0.5 s; Graphile Worker: concurrency 50, poll 0.5 s).
 *
 *   npx tsx bench/postgres-peers.ts [--jobs 2000]
 *
 * Uses DATABASE_URL's server when set (a fresh database per peer), else starts Debian's postgres.
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { makeWorkerUtils, run } from "graphile-worker";
import PgBoss from "pg-boss";
import { createQueueBackend } from "../src/adapters/queue/index.ts";
import { createDatabase, startPostgres, uniqueName, type RunningServer } from "../tests/harness/servers.ts";

const { values } = parseArgs({ options: { jobs: { type: "string", default: "2000" } } });
const JOBS = Number(values.jobs);
const CONCURRENCY = 50;

function waitFor(done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const tick = () => (done() ? resolve() : setTimeout(tick, 5));
    tick();
  });
}

/** Bare BullMQ classes on the Postgres backend (the same backend object Sluice builds, no QueueManager). */
async function bullmq(url: string): Promise<number> {
  const backend = await createQueueBackend({ kind: "postgres", connectionString: url, poolSize: 25, concurrency: CONCURRENCY });
  const queue = new backend.Queue("peers", { ...backend.queueOptions });
  let done = 0;
  const worker = new backend.Worker("peers", async () => undefined, { ...backend.workerOptions, concurrency: CONCURRENCY, autorun: false });
  worker.on("completed", () => (done += 1));
  await queue.waitUntilReady();
  const started = performance.now();
  void worker.run();
  for (let i = 0; i < JOBS; i += 500)
    await queue.addBulk(Array.from({ length: Math.min(500, JOBS - i) }, (_, j) => ({ name: "noop", data: { i: i + j } })));
  await waitFor(() => done >= JOBS);
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.close();
  await backend.close();
  return JOBS / seconds;
}

async function pgBoss(url: string): Promise<number> {
  const boss = new PgBoss({ connectionString: url, max: 25 });
  boss.on("error", () => undefined);
  await boss.start();
  await boss.createQueue("peers");
  let done = 0;
  const started = performance.now();
  // pg-boss waits out its polling interval after every fetch, so one worker is capped at batchSize
  // per interval; its way to scale is more work() registrations: 10 x 50.
  for (let w = 0; w < 10; w += 1) {
    await boss.work("peers", { batchSize: CONCURRENCY, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      done += jobs.length;
    });
  }
  for (let i = 0; i < JOBS; i += 500)
    await boss.insert(Array.from({ length: Math.min(500, JOBS - i) }, (_, j) => ({ name: "peers", data: { i: i + j } })));
  await waitFor(() => done >= JOBS);
  const seconds = (performance.now() - started) / 1000;
  await boss.stop({ graceful: false, wait: true });
  return JOBS / seconds;
}

async function graphile(url: string): Promise<number> {
  let done = 0;
  const utils = await makeWorkerUtils({ connectionString: url });
  await utils.migrate();
  const runner = await run({
    connectionString: url,
    concurrency: CONCURRENCY,
    pollInterval: 500,
    noHandleSignals: true,
    taskList: { noop: async () => void (done += 1) },
  });
  const started = performance.now();
  for (let i = 0; i < JOBS; i += 500)
    await utils.addJobs(Array.from({ length: Math.min(500, JOBS - i) }, (_, j) => ({ identifier: "noop", payload: { i: i + j } })));
  await waitFor(() => done >= JOBS);
  const seconds = (performance.now() - started) / 1000;
  await runner.stop();
  await utils.release();
  return JOBS / seconds;
}

async function main(): Promise<void> {
  let server: RunningServer | undefined;
  const base = process.env.DATABASE_URL ?? (server = await startPostgres()).url;
  console.log(`# node ${process.version}, ${availableParallelism()} cores; ${JOBS} no-op jobs each, concurrency ${CONCURRENCY}`);
  try {
    for (const [name, fn] of [
      ["bullmq-postgres (bare)", bullmq],
      ["pg-boss", pgBoss],
      ["graphile-worker", graphile],
    ] as const) {
      const url = await createDatabase(base, uniqueName("peer"));
      const rate = await fn(url);
      console.log(`postgres-peers ${name.padEnd(24)} ${rate.toFixed(0).padStart(6)} jobs/s`);
    }
  } finally {
    await server?.stop();
  }
}

await main();
