/**
 * End-to-end no-op jobs/s through Sluice's QueueManager vs bare BullMQ, same run, same backend
 * objects and job options (so the difference is the manager), one worker at concurrency 50, one
 * line per backend:
 *
 *   npx tsx bench/queue-throughput.ts [--backends redis,postgres,pglite] [--redis-jobs 5000] [--pg-jobs 2000] [--rounds 2]
 *
 * Uses REDIS_URL / DATABASE_URL when set (DATABASE_URL gets a fresh database), else starts Debian's
 * redis-server and postgres on free ports like the tests do. Each round adds the jobs in bulk
 * chunks of 500 while the worker runs and stops when the last one is completed; the best round
 * of each side is reported, bare and Sluice alternating so drift hits both.
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createLogger } from "../src/adapters/log/pino.ts";
import { createPrometheusMetrics } from "../src/adapters/metrics/prometheus.ts";
import { createQueueBackend, type AnyQueue, type QueueBackend, type QueueBackendOptions } from "../src/adapters/queue/index.ts";
import { openPglite } from "../src/adapters/store/pglite/open.ts";
import { queueJobDefaults, resolveQueueDefaults } from "../src/pipeline/queues/defaults.ts";
import { createQueueManager } from "../src/pipeline/queues/queue-manager.ts";
import { createDatabase, startPostgres, startRedis, uniqueName, type RunningServer } from "../tests/harness/servers.ts";

const { values } = parseArgs({
  options: {
    backends: { type: "string", default: "redis,postgres,pglite" },
    "redis-jobs": { type: "string", default: "5000" },
    "pg-jobs": { type: "string", default: "2000" },
    rounds: { type: "string", default: "2" },
  },
});
const CONCURRENCY = 50;
const CHUNK = 500;
const ROUNDS = Number(values.rounds);
const POLL_MS = 10;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function completedCount(queue: AnyQueue): Promise<number> {
  return (await queue.getJobCounts("completed")).completed ?? 0;
}

/** Adds `jobs` no-op jobs in chunks and returns ms until the last is completed. */
async function drive(
  add: (chunk: { name: string; data: unknown }[]) => Promise<unknown>,
  counter: AnyQueue,
  jobs: number,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < jobs; i += CHUNK)
    await add(Array.from({ length: Math.min(CHUNK, jobs - i) }, (_, k) => ({ name: "noop", data: { i: i + k } })));
  while ((await completedCount(counter)) < jobs) await sleep(POLL_MS);
  return performance.now() - started;
}

const noop = async () => null;
/**
 * Both sides get Sluice's default job options, except that completed jobs are kept: the count that
 * ends a round stays exact, and retention (a per-completion DELETE on the Postgres backends, the same
 * for both sides) does not blur the manager's own cost. See docs/queues.md for retention's cost.
 */
const declaration = { defaultJobOptions: { removeOnComplete: false } };
const jobOptions = queueJobDefaults(resolveQueueDefaults(), declaration);

async function bare(backend: QueueBackend, name: string, jobs: number): Promise<number> {
  const queue = new backend.Queue(name, { ...backend.queueOptions, defaultJobOptions: jobOptions });
  const worker = new backend.Worker(name, noop, { ...backend.workerOptions, concurrency: CONCURRENCY });
  await worker.waitUntilReady();
  try {
    return await drive((chunk) => queue.addBulk(chunk), queue, jobs);
  } finally {
    await worker.close();
    await queue.close();
  }
}

async function sluice(backend: QueueBackend, name: string, jobs: number): Promise<number> {
  const manager = createQueueManager({
    backend,
    metrics: createPrometheusMetrics({ processMetrics: false }),
    logger: createLogger({ level: "silent" }),
  });
  manager.declare(name, declaration);
  await manager.startWorker(name, noop, { concurrency: CONCURRENCY });
  const counter = manager.bullQueues()[0]!;
  try {
    return await drive((chunk) => manager.addBulk(name, chunk), counter, jobs);
  } finally {
    await manager.close();
  }
}

const rate = (jobs: number, ms: number) => Math.round((jobs / ms) * 1000);

async function line(label: string, backend: QueueBackend, jobs: number): Promise<string> {
  await bare(backend, `${label}-warm-bare`, Math.min(500, jobs));
  await sluice(backend, `${label}-warm-sluice`, Math.min(500, jobs));
  let bestBare = Infinity;
  let bestSluice = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    bestBare = Math.min(bestBare, await bare(backend, `${label}-bare-${round}`, jobs));
    bestSluice = Math.min(bestSluice, await sluice(backend, `${label}-sluice-${round}`, jobs));
  }
  const cost = (bestSluice / bestBare).toFixed(2);
  return `queue-throughput ${label}: sluice ${rate(jobs, bestSluice)} jobs/s, bare BullMQ ${rate(jobs, bestBare)} jobs/s, cost ${cost}x per job (${jobs} no-op jobs, 1 worker, concurrency ${CONCURRENCY}, best of ${ROUNDS}; load avg ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cpus)`;
}

async function main(): Promise<void> {
  const wanted = values.backends.split(",").map((s) => s.trim());
  const servers: RunningServer[] = [];
  try {
    for (const kind of wanted) {
      let options: QueueBackendOptions;
      let cleanup = async () => undefined as unknown;
      if (kind === "redis") {
        const url = process.env.REDIS_URL ?? servers[servers.push(await startRedis()) - 1]!.url;
        options = { kind: "redis", url, prefix: uniqueName("bench") };
      } else if (kind === "postgres") {
        const server = process.env.DATABASE_URL ?? servers[servers.push(await startPostgres()) - 1]!.url;
        options = { kind: "postgres", connectionString: await createDatabase(server, uniqueName("bench")), concurrency: CONCURRENCY };
      } else if (kind === "pglite") {
        const db = await openPglite(undefined);
        options = { kind: "pglite", db };
        cleanup = () => db.close();
      } else {
        throw new Error(`unknown backend ${kind}`);
      }
      const backend = await createQueueBackend(options);
      try {
        console.log(await line(kind, backend, Number(kind === "redis" ? values["redis-jobs"] : values["pg-jobs"])));
      } finally {
        await backend.close();
        await cleanup();
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

await main();
