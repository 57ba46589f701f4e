import type { PGlite } from "@electric-sql/pglite";
import type { IQueueBackend, JobProgress, Processor, Queue, QueueEvents, QueueEventsOptions, QueueOptions, Worker, WorkerOptions } from "bullmq";
import type { QueueBackendKind } from "../../core/config.ts";
import type { Logger } from "../../core/logger.ts";
import type { RedisEvictionCheck } from "./redis-eviction.ts";

/**
 * A queue backend: BullMQ's Queue/Worker/QueueEvents classes bound (with `withBackend`) to one
 * datastore, plus the connection options to hand them. Every backend runs the same BullMQ API, so
 * everything above this file is backend-agnostic; the queue conformance suite proves it.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- job payloads are opaque here, as in BullMQ's own defaults */
export type AnyQueue = Queue<any, any, string, any, any, string, IQueueBackend, unknown>;
export type AnyWorker = Worker<any, any, string, IQueueBackend, JobProgress, unknown>;
export type AnyQueueEvents = QueueEvents<any, IQueueBackend, unknown>;
export type AnyProcessor = Processor<any, any, string>;
/* eslint-enable @typescript-eslint/no-explicit-any */
export type QueueClass = new (name: string, opts: QueueOptions<unknown>) => AnyQueue;
export type WorkerClass = new (name: string, processor: AnyProcessor, opts: WorkerOptions<unknown>) => AnyWorker;
export type QueueEventsClass = new (name: string, opts: QueueEventsOptions<unknown>) => AnyQueueEvents;

/** Narrows `withBackend(...)`'s result (typed per backend) to the backend-agnostic class types above. */
export function bindClasses(classes: { Queue: unknown; Worker: unknown; QueueEvents: unknown }): { Queue: QueueClass; Worker: WorkerClass; QueueEvents: QueueEventsClass } {
  return classes as { Queue: QueueClass; Worker: WorkerClass; QueueEvents: QueueEventsClass };
}

/** What to spread into a Queue/Worker/QueueEvents options object. */
export interface BackendClassOptions {
  connection: unknown;
  /** Redis key prefix; absent on the Postgres backends (the `bullmq` schema is the namespace). */
  prefix?: string;
}

export interface QueueBackendHealth {
  kind: QueueBackendKind;
  ok: boolean;
  latencyMs: number;
  error?: string;
  /** Whether the datastore answered; only differs from `ok` when something else fails it (Redis: an unacceptable eviction policy). */
  reachable?: boolean;
  /** Redis only: the `maxmemory-policy` verdict, read again at each health check (for `/ready`). */
  eviction?: RedisEvictionCheck;
}

export interface QueueBackend {
  readonly kind: QueueBackendKind;
  readonly Queue: QueueClass;
  readonly Worker: WorkerClass;
  /** For diagnostics and the QueueEvents-loss test only: nothing correct may depend on its events. */
  readonly QueueEvents: QueueEventsClass;
  /** Options for producers (Queue). On Redis its client fails fast rather than retrying forever. */
  readonly queueOptions: BackendClassOptions;
  /** Options for Workers and QueueEvents (on Redis: `maxRetriesPerRequest: null`, as BullMQ requires). */
  readonly workerOptions: BackendClassOptions;
  /** Whether `Queue.getWorkersCount()` sees workers in other processes (false only for PGlite, which is one process). */
  readonly fleetWideWorkerCount: boolean;
  /** Throws SluiceError DEPENDENCY_UNAVAILABLE when the datastore does not answer. */
  ping(): Promise<void>;
  health(): Promise<QueueBackendHealth>;
  /** Closes the connections this backend opened (not a PGlite instance it was given). Idempotent. */
  close(): Promise<void>;
}

export interface RedisQueueBackendOptions {
  kind: "redis";
  url: string;
  /**
   * Key prefix for every queue key (`{prefix}:{queue}:...`). Wrap it in braces, e.g. `{sluice}`, on Redis Cluster.
   * @default "bull"
   */
  prefix?: string;
  /** Run queues even when `maxmemory-policy` is not `noeviction` (REDIS_ALLOW_EVICTION). @default false */
  allowEviction?: boolean;
  /** How often `maxmemory-policy` is read again while running (REDIS_EVICTION_CHECK_MS); health checks also read it. @default 30000 */
  evictionCheckIntervalMs?: number;
  /** Where a policy that turns unsafe while running is reported (an error line). */
  logger?: Logger;
}

export interface PostgresQueueBackendOptions {
  kind: "postgres";
  connectionString: string;
  /** Configured pool size (DATABASE_POOL_SIZE); raised to half the worker concurrency if smaller. @default 10 */
  poolSize?: number;
  /** Worker concurrency this process runs (QUEUE_CONCURRENCY), for pool sizing. @default 10 */
  concurrency?: number;
  /** Ceiling on the long-lived LISTEN connections (one per Worker/QueueEvents). @default 50 */
  maxListenConnections?: number;
}

export interface PgliteQueueBackendOptions {
  kind: "pglite";
  /** The process's one PGlite instance, shared with the store; the backend never closes it. */
  db: PGlite;
}

export type QueueBackendOptions = RedisQueueBackendOptions | PostgresQueueBackendOptions | PgliteQueueBackendOptions;

/** Times a ping into a health record (shared by the three backends). */
export async function measureHealth(kind: QueueBackendKind, ping: () => Promise<void>, extra: Partial<QueueBackendHealth> = {}): Promise<QueueBackendHealth> {
  const started = performance.now();
  try {
    await ping();
    return { kind, ok: true, latencyMs: Math.round(performance.now() - started), ...extra };
  } catch (err) {
    return { kind, ok: false, latencyMs: Math.round(performance.now() - started), error: err instanceof Error ? err.message : String(err), ...extra };
  }
}
