import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { SluiceConfig } from "../../core/config.ts";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Counter, Histogram, Metrics } from "../../ports/metrics.ts";
import type { Store } from "../../ports/store.ts";
import type { AdminActor } from "../admin/queue-admin.ts";
import * as E from "./sql/index.ts";
import { EMBEDDINGS_BACKFILL_FLAG, type RuntimeFlags } from "../flags/index.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { WorkerHandle } from "../queues/types.ts";
import type { ProviderRuntime } from "../runtime/index.ts";
import { auditedReindexIndex, auditedReindexWorkspace, auditedRetryFailed, auditedVacuum } from "./operations.ts";
import type { EmbeddingBatchApi } from "./batch-jsonl.ts";
import { WORKSPACE_JOB, workspaceDedupId, type BackfillContext, type ResolvedBackfillOptions } from "./context.ts";
import { createBackfillSwitch } from "./kill-switch.ts";
import { searchWorkspace, type SearchRequest, type SearchResponse } from "./search.ts";
import { startBackfillWorker, sweep, type SweepResult } from "./worker.ts";

export interface EmbeddingsServiceOptions {
  store: Store;
  queues: QueueManager;
  runtime: Pick<ProviderRuntime, "embed">;
  flags: Pick<RuntimeFlags, "isEnabled" | "describe">;
  metrics: Metrics;
  logger: Logger;
  config: Pick<SluiceConfig, "ai" | "embeddings" | "flags">;
  /** The backfill's queue (declared by the caller). @default "ai-batch-queue" */
  queue?: string;
  /** The provider batch API. @default OpenAI's when OPENAI_API_KEY or OPENAI_BASE_URL is set, else none */
  batchApi?: EmbeddingBatchApi;
  /** Overrides of the options the config gives (library use, tests, benchmarks). @default {} */
  overrides?: Partial<ResolvedBackfillOptions>;
}

/** What `sluice backlog` and `GET /api/embeddings/backlog` show. */
interface BacklogView extends E.BacklogReport {
  backfill: { enabled: boolean; source: string };
  batchMode: "off" | "openai";
}

interface IngestSummary extends E.IngestResult {
  deleted: number;
  /** A backfill job was queued for the workspace. */
  queued: boolean;
}

/** Embeddings ingest, search, the backfill worker and its operations, over one store and one queue. */
export interface EmbeddingsService {
  /** False with VECTOR_SEARCH_ENABLED=false (or no embeddings tables): every call but these flags throws EMBEDDINGS_UNAVAILABLE. */
  readonly available: boolean;
  readonly options: Readonly<ResolvedBackfillOptions>;
  /** Bulk upsert (and deletions) in one transaction, then a backfill job for the workspace. */
  upsert(workspaceId: string, items: readonly E.ItemInput[], options?: { delete?: readonly string[] }): Promise<IngestSummary>;
  remove(workspaceId: string, externalIds: readonly string[]): Promise<number>;
  item(workspaceId: string, externalId: string): Promise<E.ItemState | null>;
  search(workspaceId: string, request: SearchRequest): Promise<SearchResponse>;
  backlog(): Promise<BacklogView>;
  batches(statuses?: readonly E.BatchStatus[]): Promise<E.BatchRow[]>;
  reindexWorkspace(who: AdminActor, workspaceId: string): Promise<{ workspace: string; requeued: number }>;
  retryFailed(
    who: AdminActor,
    options: { workspaceId?: string | undefined; force?: boolean },
  ): Promise<{ requeued: number; force: boolean }>;
  vacuum(who: AdminActor): Promise<{ tables: { table: string; durationMs: number }[] }>;
  reindexIndex(
    who: AdminActor,
    options?: { concurrently?: boolean },
  ): Promise<{ index: string; concurrently: boolean; durationMs: number }>;
  /** Queues a backfill job for one workspace (deduplicated: at most one waiting and one running). */
  schedule(workspaceId: string): Promise<void>;
  /** Runs one sweep now (reclaim, poll batches, queue pending workspaces). */
  sweep(): Promise<SweepResult>;
  /** Starts this process's backfill worker on the queue (role worker/all); undefined when unavailable. */
  startWorker(): Promise<WorkerHandle | undefined>;
  /** Stops the worker: running chunks go back to `pending`, their workspaces are re-queued. */
  close(): Promise<void>;
}

function resolveBackfillOptions(
  config: EmbeddingsServiceOptions["config"],
  queue: string,
  overrides: Partial<ResolvedBackfillOptions> = {},
): ResolvedBackfillOptions {
  const { backfill, batch } = config.embeddings;
  return {
    queue,
    chunkSize: backfill.chunkSize,
    concurrency: backfill.concurrency,
    sweepMs: backfill.sweepMs,
    retryDelayMs: backfill.retryDelayMs,
    maxRetryDelayMs: 60_000,
    claimTimeoutMs: backfill.claimTimeoutMs,
    sliceMs: 60_000,
    maxAttempts: E.DEFAULT_MAX_ATTEMPTS,
    dimensions: config.ai.embeddingDimensions,
    model: config.ai.embeddingModel,
    batchMode: batch.mode,
    batchSize: batch.size,
    ...overrides,
  };
}

async function tablesExist(store: Store): Promise<boolean> {
  const { rows } = await store.query<{ t: string | null }>("SELECT to_regclass('shop_product_embeddings')::text AS t");
  return rows[0]?.t != null;
}

const noCounter: Counter = { inc: () => undefined };

function unavailable(): SluiceError {
  return new SluiceError(
    "EMBEDDINGS_UNAVAILABLE",
    "Embeddings are off on this server: VECTOR_SEARCH_ENABLED=false or the database has no pgvector",
  );
}

export async function createEmbeddingsService(options: EmbeddingsServiceOptions): Promise<EmbeddingsService> {
  const { store, queues, config } = options;
  const logger = options.logger.child({ component: "backfill" });
  const resolved = resolveBackfillOptions(config, options.queue ?? "ai-batch-queue", options.overrides);
  const available = config.embeddings.vectorSearchEnabled && (await tablesExist(store));
  let latency: Histogram | undefined;
  let embeddedItems = noCounter;
  if (available) {
    ({ searchLatency: latency, embeddedItems } = E.registerEmbeddingMetrics(options.metrics, store));
    await E.ensureVectorIndex(store, { dimensions: resolved.dimensions }).then(
      (r) =>
        r.rebuilt &&
        logger.info({ dimensions: resolved.dimensions, durationMs: r.durationMs }, "vector index rebuilt for AI_EMBEDDING_DIMENSIONS"),
      (err: unknown) =>
        logger.warn(
          { err, dimensions: resolved.dimensions },
          "vector index not built for this dimension: search on it is exact (no index)",
        ),
    );
  }
  const batchApi = options.batchApi;
  if (resolved.batchMode === "openai" && !batchApi)
    throw new SluiceError("CONFIG_INVALID", "EMBEDDING_BATCH_MODE=openai needs OPENAI_API_KEY or OPENAI_BASE_URL");

  const closing = new AbortController();
  let handle: WorkerHandle | undefined;
  let paused = { at: 0, value: false };

  const schedule = async (workspaceId: string): Promise<void> => {
    await queues.add(resolved.queue, WORKSPACE_JOB, { workspaceId }, jobOptions(workspaceId));
  };
  const scheduleAll = async (): Promise<number> => {
    const pending = await E.topPendingWorkspaces(store, { limit: 1_000 });
    if (pending.length > 0)
      await queues.addBulk(
        resolved.queue,
        pending.map((p) => ({ name: WORKSPACE_JOB, data: { workspaceId: p.workspaceId }, opts: jobOptions(p.workspaceId) })),
      );
    return pending.length;
  };
  const killSwitch = createBackfillSwitch({
    flags: options.flags,
    logger,
    intervalMs: Math.max(250, Math.min(config.flags.cacheMs, 1_000)),
    onEnabled: async () => void (await scheduleAll()),
  });
  const ctx: BackfillContext = {
    store,
    logger,
    workerId: `backfill:${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`,
    options: resolved,
    killSwitch,
    runtime: options.runtime,
    embeddedItems,
    batchApi,
    closing: closing.signal,
    async interrupted() {
      if (closing.signal.aborted) return "closing";
      if (Date.now() - paused.at > 1_000) paused = { at: Date.now(), value: await queues.isPaused(resolved.queue).catch(() => false) };
      return paused.value ? "paused" : undefined;
    },
    schedule,
    scheduleAll,
  };

  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (!available) throw unavailable();
      return fn(...args);
    };

  return {
    available,
    options: resolved,
    upsert: guard(async (workspaceId, items, upsertOptions = {}) => {
      const { result, deleted } = await store.transaction(async (tx) => ({
        result: await E.upsertItems(tx, workspaceId, items),
        deleted: await E.deleteItems(tx, workspaceId, upsertOptions.delete ?? []),
      }));
      const queued = result.inserted + result.updated > 0;
      if (queued) await schedule(workspaceId);
      return { ...result, deleted, queued };
    }),
    remove: guard((workspaceId, externalIds) => E.deleteItems(store, workspaceId, externalIds)),
    item: guard((workspaceId, externalId) => E.getItem(store, workspaceId, externalId)),
    search: guard((workspaceId, request) =>
      searchWorkspace({ store, runtime: options.runtime, dimensions: resolved.dimensions, latency }, workspaceId, request),
    ),
    backlog: guard(async () => {
      const state = await options.flags.describe(EMBEDDINGS_BACKFILL_FLAG);
      return {
        backfill: { enabled: state.value !== false, source: state.source },
        batchMode: resolved.batchMode,
        ...(await E.backlogReport(store)),
      };
    }),
    batches: guard((statuses) => E.listBatches(store, statuses ? { statuses } : {})),
    reindexWorkspace: guard(async (who, workspaceId) => {
      const done = await auditedReindexWorkspace(store, who, workspaceId);
      if (done.requeued > 0) await schedule(workspaceId);
      return done;
    }),
    retryFailed: guard(async (who, retryOptions) => {
      const done = await auditedRetryFailed(store, who, retryOptions);
      if (done.requeued > 0) await scheduleAll();
      return done;
    }),
    vacuum: guard((who) => auditedVacuum(store, who)),
    reindexIndex: guard((who, indexOptions = {}) => auditedReindexIndex(store, who, indexOptions)),
    schedule: guard(schedule),
    sweep: guard(() => sweep(ctx)),
    async startWorker() {
      if (!available) {
        logger.info("embeddings are off (VECTOR_SEARCH_ENABLED=false or no pgvector): no backfill worker");
        return undefined;
      }
      if (handle) return handle;
      await killSwitch.start();
      handle = await startBackfillWorker(ctx, queues);
      if (await killSwitch.check()) await scheduleAll();
      logger.info(
        { workerId: ctx.workerId, batchMode: resolved.batchMode, chunkSize: resolved.chunkSize, concurrency: resolved.concurrency },
        "backfill worker started",
      );
      return handle;
    },
    async close() {
      killSwitch.stop();
      closing.abort();
      if (!handle) return;
      await handle.close();
      // Anything a crashed step left claimed goes back now rather than after EMBEDDING_CLAIM_TIMEOUT_MS.
      await E.releaseClaims(store, { workerId: ctx.workerId }).catch((err: unknown) =>
        logger.warn({ err }, "could not release backfill claims at shutdown"),
      );
    },
  };
}

function jobOptions(workspaceId: string) {
  return {
    deduplication: { id: workspaceDedupId(workspaceId), keepLastIfActive: true },
    removeOnComplete: { age: 3_600, count: 200 },
    removeOnFail: { age: 86_400, count: 1_000 },
  };
}
