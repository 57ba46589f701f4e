import type { Job } from "bullmq";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { AnyWorker, QueueBackend } from "../../ports/queue.ts";
import type { ResolvedQueueDefaults } from "./defaults.ts";
import { ABANDONED_RUN_LOG } from "./job-summary.ts";
import type { QueueInstruments } from "./queue-metrics.ts";
import type { JobProcessor, StartWorkerOptions, WorkerHandle } from "./types.ts";

export interface ManagedWorkerInput {
  backend: QueueBackend;
  name: string;
  processor: JobProcessor;
  defaults: ResolvedQueueDefaults;
  options: StartWorkerOptions;
  logger: Logger;
  instruments: QueueInstruments;
}

function positiveInt(value: number, what: string, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new SluiceError("VALIDATION_FAILED", `${what} must be a whole number, ${min} or more`);
  return value;
}

type InFlight = Map<string, { job: Job; token: string }>;

/** The processor, noting each job it runs with its lock token, so a shutdown can hand them back. */
function trackingProcessor(processor: JobProcessor, inFlight: InFlight): JobProcessor {
  // Three parameters: BullMQ passes the abort signal only to a processor that declares it.
  return async (job, token, signal) => {
    const id = String(job.id);
    if (token) inFlight.set(id, { job, token });
    try {
      return await processor(job, token, signal);
    } finally {
      inFlight.delete(id);
    }
  };
}

/**
 * Hands every job this worker is running back to the queue: a log line on the job (so the job
 * view counts the interrupted run), then `moveToWait` with the worker's lock token, which releases
 * the lock and puts the job back in `waiting` without spending an attempt, so another worker starts
 * it at once instead of after lock expiry and a stalled check. Then aborts the handlers' signals so
 * their provider calls stop; their late finish is refused by BullMQ (the lock is no longer theirs).
 */
async function abandonInFlight(worker: AnyWorker, inFlight: InFlight, reason: string, logger: Logger): Promise<number> {
  const held = [...inFlight.values()];
  const moved = await Promise.all(
    held.map(async ({ job, token }) => {
      try {
        await job.log(`${ABANDONED_RUN_LOG}: ${reason}`);
        await job.moveToWait(token);
        logger.warn({ jobId: job.id, reason }, "job abandoned by its worker and returned to the queue");
        return 1;
      } catch (err) {
        // It finished meanwhile, or the queue is unreachable: then its lock expires and the stalled check requeues it.
        logger.error({ err, jobId: job.id }, "could not return an abandoned job to the queue");
        return 0;
      }
    }),
  );
  worker.cancelAllJobs(reason);
  return moved.reduce<number>((a, b) => a + b, 0);
}

/** How long a close may still take once this worker's own jobs have all finished. */
const CLOSE_GRACE_AFTER_JOBS_MS = 3_000;

/**
 * BullMQ's close waits for its blocking client's `end` event, which an ioredis client caught
 * reconnecting (right after a Redis outage of a few seconds) never emits (bullmq#4656): the close,
 * and a process's graceful stop with it, would hang for ever. Running jobs are still waited for;
 * once they are done the close gets a bounded grace and is then left behind. BullMQ has already
 * cleared that client's reconnect timer, so nothing it leaves keeps the process alive.
 */
async function closeWorker(worker: AnyWorker, inFlight: InFlight, force: boolean, logger: Logger): Promise<void> {
  let settled = false;
  const closed = worker.close(force).finally(() => (settled = true));
  const graceOver = (async () => {
    while (!settled && inFlight.size > 0 && !force) await sleep(50);
    if (!settled) await sleep(CLOSE_GRACE_AFTER_JOBS_MS, () => settled);
    return !settled;
  })();
  if (await Promise.race([closed.then(() => false), graceOver])) {
    logger.warn({ graceMs: CLOSE_GRACE_AFTER_JOBS_MS }, "worker close still waiting on its Redis blocking connection; left behind");
  }
}

/** Sleeps `ms`, waking early once `done()` holds. */
async function sleep(ms: number, done: () => boolean = () => false): Promise<void> {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, Math.min(50, until - Date.now())));
}

/**
 * Starts a BullMQ Worker on the backend with Sluice's lock/stall settings, wires its events to
 * metrics and logs, and waits until it is connected.
 */
export async function startManagedWorker(input: ManagedWorkerInput): Promise<{ worker: AnyWorker; handle: WorkerHandle }> {
  const { backend, name, defaults, options } = input;
  const logger = input.logger.child({ queue: name });
  const inFlight: InFlight = new Map();
  const configuredConcurrency = positiveInt(options.concurrency ?? defaults.concurrency, "concurrency", 1);
  const worker = new backend.Worker(name, trackingProcessor(input.processor, inFlight), {
    ...backend.workerOptions,
    concurrency: configuredConcurrency,
    lockDuration: positiveInt(options.lockDuration ?? defaults.lockDuration, "lockDuration", 100),
    stalledInterval: positiveInt(options.stalledInterval ?? defaults.stalledInterval, "stalledInterval", 100),
    maxStalledCount: positiveInt(options.maxStalledCount ?? defaults.maxStalledCount, "maxStalledCount", 0),
  });
  // A Worker with no 'error' listener would throw on the first connection blip.
  worker.on("error", (err) => logger.error({ err }, "worker error"));
  worker.on("failed", (job, err) =>
    logger.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, "job attempt failed"),
  );
  worker.on("stalled", (jobId) => logger.warn({ jobId }, "job stalled (its worker lost the lock); requeued"));
  const { onStalledOut } = options;
  // A job past maxStalledCount is not failed by the stalled check: it is marked (a "deferred
  // failure") and requeued, and the worker that next takes it fails it without running the
  // processor. That 'failed' event is the only place its outcome shows. Listened to from
  // construction: a worker starting after its predecessor died fails that job in its first round
  // trips, before it is ready.
  if (onStalledOut)
    worker.on("failed", (job: Job | undefined, err: Error) => {
      if (!job?.deferredFailure || err.message !== job.deferredFailure) return;
      onStalledOut(job).catch((error: unknown) =>
        logger.error({ err: error, jobId: job.id }, "could not report a job failed for stalling"),
      );
    });
  input.instruments.observe(worker, name);
  try {
    await worker.waitUntilReady();
  } catch (err) {
    await worker.close(true).catch(() => undefined);
    throw new SluiceError(
      "DEPENDENCY_UNAVAILABLE",
      `Worker for "${name}" could not connect: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  let closing: Promise<void> | undefined;
  const handle: WorkerHandle = {
    queue: name,
    id: worker.id,
    get running() {
      return closing === undefined && worker.isRunning();
    },
    get concurrency() {
      return worker.concurrency;
    },
    configuredConcurrency,
    get active() {
      return inFlight.size;
    },
    setConcurrency(concurrency) {
      const next = positiveInt(concurrency, "concurrency", 1);
      if (next === worker.concurrency) return;
      worker.concurrency = next;
      logger.info({ concurrency: next }, "worker concurrency changed");
    },
    close: (force = false) => (closing ??= closeWorker(worker, inFlight, force, logger)),
    abandon: (reason) => abandonInFlight(worker, inFlight, reason, logger),
  };
  logger.info({ concurrency: worker.opts.concurrency }, "worker started");
  return { worker, handle };
}
