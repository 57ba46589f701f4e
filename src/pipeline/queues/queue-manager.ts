import type { Job } from "bullmq";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { AnyQueue, AnyWorker, QueueBackend } from "../../ports/queue.ts";
import { queueJobDefaults, resolveQueueDefaults, toBullJobOptions, type QueueDefaults } from "./defaults.ts";
import { countInterruptedRuns, normalizeState, toJobSummary } from "./job-summary.ts";
import { createQueueInstruments, type QueueSnapshot } from "./queue-metrics.ts";
import { cleanInBatches, readCounts, readPage } from "./queue-ops.ts";
import { translating } from "./translate-error.ts";
import {
  CLEANABLE_STATES,
  LISTABLE_STATES,
  type AddedJob,
  type AddJobOptions,
  type BulkJob,
  type CleanOptions,
  type JobPage,
  type JobProcessor,
  type JobSummary,
  type ListableState,
  type QueueCounts,
  type QueueDeclaration,
  type QueueListing,
  type StartWorkerOptions,
  type WorkerHandle,
} from "./types.ts";
import { startManagedWorker } from "./workers.ts";

export interface QueueManagerOptions {
  backend: QueueBackend;
  metrics: Metrics;
  logger: Logger;
  defaults?: QueueDefaults;
}

/**
 * Named queues on one backend, and every operation the admin API, the CLI and the runbooks need:
 * add, inspect, pause/resume, retry, clean, remove, run workers. Identical on Redis, PostgreSQL and
 * PGlite. Correctness never rests on QueueEvents (lossy on the Postgres backend): only on job state
 * and Worker events.
 */
export interface QueueManager {
  /** Declares a queue (idempotent). Names: letters, digits, '.', '_', '-'; up to 100 characters. */
  declare(name: string, declaration?: QueueDeclaration): void;
  has(name: string): boolean;
  /** Declared queue names, sorted. */
  names(): string[];
  add(queue: string, name: string, data: unknown, opts?: AddJobOptions): Promise<AddedJob>;
  addBulk(queue: string, jobs: readonly BulkJob[]): Promise<AddedJob[]>;
  counts(queue: string): Promise<QueueCounts>;
  /** One listing row: counts, paused, workers. */
  stats(queue: string): Promise<QueueListing>;
  /** `GET /api/queues`: a row per declared queue, sorted by name. */
  list(): Promise<QueueListing[]>;
  isPaused(queue: string): Promise<boolean>;
  /** A paused queue still accepts jobs; workers take none until it is resumed. */
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  /** Pauses every declared queue; returns their names. */
  pauseAll(): Promise<string[]>;
  resumeAll(): Promise<string[]>;
  /** A page of jobs in one state. @default offset 0, limit 20 (max 1000) */
  jobs(queue: string, state: ListableState, page?: { offset?: number; limit?: number }): Promise<JobPage>;
  /** Throws JOB_NOT_FOUND. */
  getJob(queue: string, id: string): Promise<JobSummary>;
  findJob(queue: string, id: string): Promise<JobSummary | undefined>;
  /** Moves one failed (or completed) job back to waiting; CONFLICT for any other state. */
  retryJob(queue: string, id: string): Promise<JobSummary>;
  /** Moves every failed job back to waiting; returns how many were failed when it started. */
  retryAll(queue: string): Promise<{ retried: number }>;
  /** Removes jobs in a state older than a grace period. */
  clean(queue: string, options?: CleanOptions): Promise<{ removed: number }>;
  /** Removes one job; CONFLICT when a worker holds it (active), JOB_NOT_FOUND when absent. */
  removeJob(queue: string, id: string): Promise<void>;
  startWorker(queue: string, processor: JobProcessor, options?: StartWorkerOptions): Promise<WorkerHandle>;
  /** Workers this manager runs, per queue (this process only). */
  localWorkers(queue: string): number;
  /** The handles of this process's running workers, every queue. */
  workerHandles(): WorkerHandle[];
  /** The BullMQ queues, for Bull Board. */
  bullQueues(): AnyQueue[];
  /**
   * For a shutdown past its timeout: every job this process's workers are running goes back to
   * `waiting` now (no attempt spent, counted in `interruptedRuns`), so another worker runs it at
   * once rather than after lock expiry. Returns how many went back.
   */
  abandonActive(reason: string): Promise<number>;
  /** Closes workers (letting running jobs finish) then queues. The backend stays open: its owner closes it. */
  close(): Promise<void>;
}

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const SNAPSHOT_TTL_MS = 1_000;
const MAX_PAGE = 1_000;

export function createQueueManager(options: QueueManagerOptions): QueueManager {
  const { backend } = options;
  const defaults = resolveQueueDefaults(options.defaults);
  const logger = options.logger.child({ component: "queues" });
  const queues = new Map<string, AnyQueue>();
  const workers = new Set<{ queue: string; worker: AnyWorker; handle: WorkerHandle }>();
  let closing: Promise<void> | undefined;

  const queueOf = (name: string): AnyQueue => {
    if (closing) throw new SluiceError("NOT_READY", "The queue manager is closed");
    const queue = queues.get(name);
    if (!queue) throw new SluiceError("QUEUE_NOT_FOUND", `No queue named "${name}"`, { details: { queue: name } });
    return queue;
  };
  const sortedNames = () => [...queues.keys()].sort();
  const localWorkers = (name: string) => [...workers].filter((w) => w.queue === name && w.handle.running).length;

  const workerCount = async (name: string, queue: AnyQueue): Promise<number> => {
    try {
      return await queue.getWorkersCount();
    } catch (err) {
      logger.debug({ err, queue: name }, "getWorkersCount failed; reporting this process's workers");
      return localWorkers(name);
    }
  };

  const stats = async (name: string): Promise<QueueListing> => {
    const queue = queueOf(name);
    return translating(`stats of ${name}`, async () => {
      const [counts, paused, workersNow] = await Promise.all([readCounts(queue), queue.isPaused(), workerCount(name, queue)]);
      const { waiting, active, completed, failed, delayed, total } = counts;
      return { name, waiting, active, completed, failed, delayed, total, paused, workers: workersNow };
    });
  };

  // Gauges are read at scrape time; several gauges read one snapshot, reused for a second.
  let snapshotCache: { at: number; value: Promise<Map<string, QueueSnapshot>> } | undefined;
  const snapshot = (): Promise<Map<string, QueueSnapshot>> => {
    if (closing) return Promise.resolve(new Map<string, QueueSnapshot>());
    if (snapshotCache && performance.now() - snapshotCache.at < SNAPSHOT_TTL_MS) return snapshotCache.value;
    const value = (async () => {
      const rows = await Promise.all(sortedNames().map(async (name) => [name, await stats(name)] as const));
      return new Map(rows.map(([name, s]) => [name, { counts: s, workers: s.workers }]));
    })();
    snapshotCache = { at: performance.now(), value };
    value.catch(() => (snapshotCache = undefined));
    return value;
  };
  const instruments = createQueueInstruments(options.metrics, snapshot, logger);

  const mustFind = async (name: string, id: string): Promise<Job> => {
    const job = await translating(`job ${id} in ${name}`, () => queueOf(name).getJob(id));
    if (!job) throw new SluiceError("JOB_NOT_FOUND", `No job ${id} in queue "${name}"`, { details: { queue: name, id } });
    return job;
  };
  /**
   * State first, then the job: read the other way round, a job finishing in between shows its
   * final state with the previous attempt's data. Finished states only change by operator action.
   */
  const readJob = async (name: string, id: string): Promise<JobSummary | undefined> => {
    const queue = queueOf(name);
    return translating(`job ${id} in ${name}`, async () => {
      const state = await queue.getJobState(id);
      const job = await queue.getJob(id);
      if (!job) return undefined;
      const normalized = normalizeState(state);
      return toJobSummary(job, name, normalized, await countInterruptedRuns(queue, job, normalized));
    });
  };
  const mustRead = async (name: string, id: string): Promise<JobSummary> => {
    const summary = await readJob(name, id);
    if (!summary) throw new SluiceError("JOB_NOT_FOUND", `No job ${id} in queue "${name}"`, { details: { queue: name, id } });
    return summary;
  };

  return {
    declare(name, declaration) {
      if (closing) throw new SluiceError("NOT_READY", "The queue manager is closed");
      if (!QUEUE_NAME.test(name))
        throw new SluiceError("VALIDATION_FAILED", `Invalid queue name "${name}": use letters, digits, '.', '_' or '-' (up to 100)`);
      if (queues.has(name)) return;
      const queue = new backend.Queue(name, { ...backend.queueOptions, defaultJobOptions: queueJobDefaults(defaults, declaration) });
      queue.on("error", (err) => logger.error({ err, queue: name }, "queue error"));
      queues.set(name, queue);
      instruments.declare(name);
    },
    has: (name) => queues.has(name),
    names: sortedNames,

    async add(name, jobName, data, opts) {
      const queue = queueOf(name);
      const job = await translating(`add to ${name}`, () => queue.add(jobName, data, toBullJobOptions(opts)));
      instruments.enqueued(name, 1);
      return { id: String(job.id), queue: name, name: jobName };
    },
    async addBulk(name, jobs) {
      const queue = queueOf(name);
      const entries = jobs.map((j) => ({ name: j.name, data: j.data, opts: toBullJobOptions(j.opts) }));
      const added = await translating(`bulk add to ${name}`, () => queue.addBulk(entries));
      instruments.enqueued(name, added.length);
      return added.map((job) => ({ id: String(job.id), queue: name, name: job.name }));
    },

    counts: (name) => translating(`counts of ${name}`, () => readCounts(queueOf(name))),
    stats,
    list: () => Promise.all(sortedNames().map(stats)),
    isPaused: (name) => translating(`pause state of ${name}`, () => queueOf(name).isPaused()),
    async pause(name) {
      await translating(`pause ${name}`, () => queueOf(name).pause());
      logger.info({ queue: name }, "queue paused");
    },
    async resume(name) {
      await translating(`resume ${name}`, () => queueOf(name).resume());
      logger.info({ queue: name }, "queue resumed");
    },
    async pauseAll() {
      const names = sortedNames();
      await Promise.all(names.map((n) => translating(`pause ${n}`, () => queueOf(n).pause())));
      logger.info({ queues: names }, "all queues paused");
      return names;
    },
    async resumeAll() {
      const names = sortedNames();
      await Promise.all(names.map((n) => translating(`resume ${n}`, () => queueOf(n).resume())));
      logger.info({ queues: names }, "all queues resumed");
      return names;
    },

    async jobs(name, state, page = {}) {
      const queue = queueOf(name);
      if (!LISTABLE_STATES.includes(state))
        throw new SluiceError("VALIDATION_FAILED", `state must be one of ${LISTABLE_STATES.join(", ")}`);
      const offset = page.offset ?? 0;
      const limit = page.limit ?? 20;
      if (!Number.isInteger(offset) || offset < 0) throw new SluiceError("VALIDATION_FAILED", "offset must be a whole number, 0 or more");
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
        throw new SluiceError("VALIDATION_FAILED", `limit must be a whole number from 1 to ${MAX_PAGE}`);
      return translating(`jobs of ${name}`, async () => {
        const { jobs, total } = await readPage(queue, state, offset, limit);
        const summaries = await Promise.all(
          jobs.map(async (j) => toJobSummary(j, name, state, await countInterruptedRuns(queue, j, state))),
        );
        return { jobs: summaries, total, offset, limit };
      });
    },
    getJob: mustRead,
    findJob: readJob,
    async retryJob(name, id) {
      const job = await mustFind(name, id);
      const state = await job.getState();
      if (state !== "failed" && state !== "completed") {
        throw new SluiceError("CONFLICT", `Job ${id} is ${normalizeState(state)}: only failed or completed jobs can be retried`, {
          details: { queue: name, id, state: normalizeState(state) },
        });
      }
      await translating(`retry job ${id} in ${name}`, () => job.retry(state));
      logger.info({ queue: name, jobId: id }, "job retried");
      return mustRead(name, id);
    },
    async retryAll(name) {
      const queue = queueOf(name);
      const retried = await translating(`retry failed jobs of ${name}`, async () => {
        const failed = await queue.getJobCountByTypes("failed");
        await queue.retryJobs({ state: "failed", count: 1_000 });
        return failed;
      });
      logger.info({ queue: name, retried }, "failed jobs retried");
      return { retried };
    },
    async clean(name, cleanOptions = {}) {
      const queue = queueOf(name);
      const { graceMs = 0, state = "failed", limit } = cleanOptions;
      if (!CLEANABLE_STATES.includes(state)) {
        throw new SluiceError(
          "VALIDATION_FAILED",
          `state must be one of ${CLEANABLE_STATES.join(", ")} (stalled jobs are requeued automatically; active jobs are never cleaned)`,
        );
      }
      if (!Number.isFinite(graceMs) || graceMs < 0) throw new SluiceError("VALIDATION_FAILED", "graceMs must be 0 or more");
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
        throw new SluiceError("VALIDATION_FAILED", "limit must be a whole number, 1 or more");
      const removed = await translating(`clean ${name}`, () => cleanInBatches(queue, state, Math.round(graceMs), limit));
      logger.info({ queue: name, state, graceMs, removed }, "queue cleaned");
      return { removed };
    },
    async removeJob(name, id) {
      await mustFind(name, id);
      const removed = await translating(`remove job ${id} from ${name}`, () => queueOf(name).remove(id));
      if (removed === 0)
        throw new SluiceError("CONFLICT", `Job ${id} is locked by a running worker and cannot be removed`, {
          details: { queue: name, id },
        });
      logger.info({ queue: name, jobId: id }, "job removed");
    },

    async startWorker(name, processor, workerOptions = {}) {
      queueOf(name);
      const started = await startManagedWorker({ backend, name, processor, defaults, options: workerOptions, logger, instruments });
      const entry = { queue: name, ...started };
      workers.add(entry);
      started.worker.once("closed", () => workers.delete(entry));
      return started.handle;
    },
    localWorkers,
    workerHandles: () => [...workers].filter((w) => w.handle.running).map((w) => w.handle),
    bullQueues: () =>
      sortedNames()
        .map((n) => queues.get(n))
        .filter((q): q is AnyQueue => q !== undefined),

    async abandonActive(reason) {
      const moved = await Promise.all([...workers].map((w) => w.handle.abandon(reason)));
      return moved.reduce((a, b) => a + b, 0);
    },

    close: () =>
      (closing ??= (async () => {
        await Promise.allSettled([...workers].map((w) => w.handle.close()));
        await Promise.allSettled([...queues.values()].map((q) => q.close()));
      })()),
  };
}
