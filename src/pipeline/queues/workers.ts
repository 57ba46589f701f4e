import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { AnyWorker, QueueBackend } from "../../adapters/queue/backend-types.ts";
import type { ResolvedQueueDefaults } from "./defaults.ts";
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

/**
 * Starts a BullMQ Worker on the backend with Sluice's lock/stall settings, wires its events to
 * metrics and logs, and waits until it is connected.
 */
export async function startManagedWorker(input: ManagedWorkerInput): Promise<{ worker: AnyWorker; handle: WorkerHandle }> {
  const { backend, name, defaults, options } = input;
  const logger = input.logger.child({ queue: name });
  const worker = new backend.Worker(name, input.processor, {
    ...backend.workerOptions,
    concurrency: positiveInt(options.concurrency ?? defaults.concurrency, "concurrency", 1),
    lockDuration: positiveInt(options.lockDuration ?? defaults.lockDuration, "lockDuration", 100),
    stalledInterval: positiveInt(options.stalledInterval ?? defaults.stalledInterval, "stalledInterval", 100),
    maxStalledCount: positiveInt(options.maxStalledCount ?? defaults.maxStalledCount, "maxStalledCount", 0),
  });
  // A Worker with no 'error' listener would throw on the first connection blip.
  worker.on("error", (err) => logger.error({ err }, "worker error"));
  worker.on("failed", (job, err) => logger.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, "job attempt failed"));
  worker.on("stalled", (jobId) => logger.warn({ jobId }, "job stalled (its worker lost the lock); requeued"));
  input.instruments.observe(worker, name);
  try {
    await worker.waitUntilReady();
  } catch (err) {
    await worker.close(true).catch(() => undefined);
    throw new SluiceError("DEPENDENCY_UNAVAILABLE", `Worker for "${name}" could not connect: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  let closing: Promise<void> | undefined;
  const handle: WorkerHandle = {
    queue: name,
    id: worker.id,
    get running() {
      return closing === undefined && worker.isRunning();
    },
    close: (force = false) => (closing ??= worker.close(force)),
  };
  logger.info({ concurrency: worker.opts.concurrency }, "worker started");
  return { worker, handle };
}
