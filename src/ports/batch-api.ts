/**
 * A provider's batch API for embeddings (OpenAI Batch: upload a JSONL file, create a batch, poll it,
 * download the output file). Each input line is one item, named `item-<id>` (`custom_id`), so the
 * output maps back to rows without any state outside `embedding_batches`.
 */
export interface EmbeddingBatchApi {
  /** Name stored in `embedding_batches.provider`. */
  readonly provider: string;
  /** Uploads the JSONL input (purpose `batch`); returns the file id. */
  uploadInput(jsonl: string): Promise<string>;
  /** Creates a batch over an uploaded input file. */
  create(inputFileId: string, metadata: Record<string, string>): Promise<RemoteBatch>;
  retrieve(batchId: string): Promise<RemoteBatch>;
  /** A file's whole content (output and error files are JSONL). */
  download(fileId: string): Promise<string>;
}

/** OpenAI's batch statuses. */
export type RemoteBatchStatus =
  "validating" | "failed" | "in_progress" | "finalizing" | "completed" | "expired" | "cancelling" | "cancelled";

export interface RemoteBatch {
  id: string;
  status: RemoteBatchStatus;
  outputFileId: string | null;
  errorFileId: string | null;
  /** The provider's errors, joined, when it failed the batch. */
  error: string | null;
}
