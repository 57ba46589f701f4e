import type { Logger } from "../../core/logger.ts";
import type { Counter } from "../../ports/metrics.ts";
import type { Store } from "../../ports/store.ts";
import type { ProviderRuntime } from "../runtime/index.ts";
import type { EmbeddingBatchApi } from "./batch-jsonl.ts";
import type { BackfillSwitch } from "./kill-switch.ts";

/** The backfill's job names on `ai-batch-queue`. */
export const WORKSPACE_JOB = "backfill.workspace";
export const SWEEP_JOB = "backfill.sweep";
/** The BullMQ job scheduler that produces a sweep job every EMBEDDING_BACKFILL_SWEEP_MS. */
export const SWEEP_SCHEDULER = "embeddings-backfill-sweep";

/** One workspace job per workspace at a time: BullMQ deduplication on this id. */
export const workspaceDedupId = (workspaceId: string): string => `backfill-${workspaceId}`;

export interface ResolvedBackfillOptions {
  queue: string;
  /** Items per provider call. */
  chunkSize: number;
  /** Workspace jobs per worker process. */
  concurrency: number;
  sweepMs: number;
  /** Backoff base after a failed chunk (doubled per consecutive failure, at most `maxRetryDelayMs`). */
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** Stale-claim age. */
  claimTimeoutMs: number;
  /** A workspace job hands over (re-queues itself) after this long, so big workspaces share workers fairly. */
  sliceMs: number;
  /** Failed attempts after which an item stays failed. */
  maxAttempts: number;
  /** AI_EMBEDDING_DIMENSIONS: what the provider is asked for and what the HNSW index covers. */
  dimensions: number;
  /** AI_EMBEDDING_MODEL: what batch requests name. */
  model: string;
  batchMode: "off" | "openai";
  /** Items per provider batch. */
  batchSize: number;
}

/** Why a workspace job ended. */
export type StopReason = "drained" | "disabled" | "paused" | "closing" | "slice";

export interface DrainSummary {
  workspaceId: string;
  claimed: number;
  completed: number;
  /** Failed attempts that went back to `pending`. */
  requeued: number;
  /** Items that ended `failed`. */
  failed: number;
  /** Items given back to `pending` by the kill switch, a pause or a shutdown (no attempt counted). */
  released: number;
  /** Items handed to provider batches (batch mode). */
  submitted: number;
  stopped: StopReason;
}

/** What the drain loop, the batch poller and the sweep share inside one worker process. */
export interface BackfillContext {
  store: Store;
  logger: Logger;
  /** `claimed_by` of this process's claims. */
  workerId: string;
  options: ResolvedBackfillOptions;
  killSwitch: BackfillSwitch;
  runtime: Pick<ProviderRuntime, "embed">;
  embeddedItems: Counter;
  /** Present when a provider batch API is configured (polled whenever batches are open). */
  batchApi: EmbeddingBatchApi | undefined;
  /** Aborted when this process's backfill worker closes. */
  closing: AbortSignal;
  /** "paused" while `ai-batch-queue` is paused (runbook option B), "closing" on shutdown. */
  interrupted(): Promise<"paused" | "closing" | undefined>;
  /** Queues a workspace job (deduplicated). */
  schedule(workspaceId: string): Promise<void>;
  /** Queues a job for every workspace with pending items; returns how many. */
  scheduleAll(): Promise<number>;
}
