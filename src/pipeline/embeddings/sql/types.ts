/**
 * Shapes of the embeddings store (migrations/0004_embeddings.sql). The table names follow runbook 000:
 * `shop_product_embeddings` (one row per item, `shop_id` = workspace id) and `embedding_batches`.
 */
export type ItemStatus = "pending" | "processing" | "completed" | "failed";

export const BATCH_STATUSES = ["submitted", "processing", "completed", "failed", "expired"] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** Failed attempts after which an item stays `failed` (the runbook's `retry_count < 3`). */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** A vector as the provider returns it. */
export type Vector = readonly number[] | Float32Array;

/** An item to embed, as a client sends it. */
export interface ItemInput {
  /** The client's id for the item, unique in its workspace (1-512 characters). */
  externalId: string;
  /** The text to embed. */
  text: string;
  /** Free-form JSON object, returned with search hits and matched by search filters. @default {} */
  metadata?: Record<string, unknown>;
}

/** An item a worker has claimed: what it needs to embed it and report back. */
export interface ClaimedItem {
  id: number;
  workspaceId: string;
  externalId: string;
  text: string;
  contentHash: string;
  /** Failed attempts so far. */
  retryCount: number;
}

/** A row of `embedding_batches`. */
export interface BatchRow {
  id: number;
  shop_id: string | null;
  status: BatchStatus;
  provider: string;
  model: string;
  dimensions: number;
  total_items: number;
  completed_items: number;
  failed_items: number;
  provider_batch_id: string | null;
  input_file_id: string | null;
  output_file_id: string | null;
  error: string | null;
  submitted_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}
