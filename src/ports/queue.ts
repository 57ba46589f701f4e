import type {
  IQueueBackend,
  JobProgress,
  Processor,
  Queue,
  QueueEvents,
  QueueEventsOptions,
  QueueOptions,
  Worker,
  WorkerOptions,
} from "bullmq";
import type { QueueBackendKind } from "../core/config.ts";

/**
 * A queue backend: BullMQ's Queue/Worker/QueueEvents classes bound (with `withBackend`) to one
 * datastore, plus the connection options to hand them. Every backend runs the same BullMQ API, so
 * everything above this file is backend-agnostic; the queue conformance suite proves it.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- job payloads are opaque here, as in BullMQ's own defaults */
export type AnyQueue = Queue<any, any, string, any, any, string, IQueueBackend, unknown>;
export type AnyWorker = Worker<any, any, string, IQueueBackend, JobProgress, unknown>;
export type AnyQueueEvents = QueueEvents<any, IQueueBackend, unknown>;
type AnyProcessor = Processor<any, any, string>;
/* eslint-enable @typescript-eslint/no-explicit-any */
export type QueueClass = new (name: string, opts: QueueOptions<unknown>) => AnyQueue;
export type WorkerClass = new (name: string, processor: AnyProcessor, opts: WorkerOptions<unknown>) => AnyWorker;
export type QueueEventsClass = new (name: string, opts: QueueEventsOptions<unknown>) => AnyQueueEvents;

/** What to spread into a Queue/Worker/QueueEvents options object. */
interface BackendClassOptions {
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

/**
 * BullMQ's guidance: the queue Redis must run `maxmemory-policy noeviction`; the Redis backend reports its
 * verdict on the policy through health checks.
 */
export interface RedisEvictionCheck {
  /** The policy Redis reported, or "unknown" when CONFIG GET is not allowed. */
  policy: string;
  /** True only for `noeviction`. */
  safe: boolean;
  /** True when the policy is not safe but REDIS_ALLOW_EVICTION let the queues run anyway. */
  overridden: boolean;
  message: string;
}
