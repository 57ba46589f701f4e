import OpenAI, { toFile } from "openai";
import { translateOpenAIError } from "./translate-error.ts";
import type { EmbeddingBatchApi, RemoteBatch, RemoteBatchStatus } from "../../../ports/batch-api.ts";

export interface OpenAIBatchApiOptions {
  /** @default "sk-no-key" */
  apiKey?: string | undefined;
  /** Server root including `/v1`. @default "https://api.openai.com/v1" */
  baseURL?: string | undefined;
  /** Per-request timeout (uploads and downloads of large files included). @default 300000 */
  timeoutMs?: number;
}

interface BatchLike {
  id: string;
  status: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  errors?: { data?: Array<{ message?: string | null; code?: string | null }> } | null;
}

function toRemote(batch: BatchLike): RemoteBatch {
  const messages = (batch.errors?.data ?? []).map((e) => e.message ?? e.code ?? "").filter((m) => m !== "");
  return {
    id: batch.id,
    status: batch.status as RemoteBatchStatus,
    outputFileId: batch.output_file_id ?? null,
    errorFileId: batch.error_file_id ?? null,
    error: messages.length > 0 ? messages.join("; ") : null,
  };
}

/**
 * OpenAI's Files and Batches endpoints through the official client (no retries of its own: the
 * backfill's sweep polls again, and a failed submission counts an attempt on the items).
 */
export function createOpenAIBatchApi(options: OpenAIBatchApiOptions = {}): EmbeddingBatchApi {
  const client = new OpenAI({
    apiKey: options.apiKey ?? "sk-no-key",
    baseURL: options.baseURL ?? "https://api.openai.com/v1",
    maxRetries: 0,
    timeout: options.timeoutMs ?? 300_000,
  });
  const call = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw translateOpenAIError(err, { provider: "openai", model: undefined, signal: undefined });
    }
  };
  return {
    provider: "openai",
    uploadInput: (jsonl) =>
      call(async () => {
        const file = await toFile(Buffer.from(jsonl, "utf8"), "sluice-embeddings.jsonl", { type: "application/jsonl" });
        return (await client.files.create({ file, purpose: "batch" })).id;
      }),
    create: (inputFileId, metadata) =>
      call(async () =>
        toRemote(
          await client.batches.create({ input_file_id: inputFileId, endpoint: "/v1/embeddings", completion_window: "24h", metadata }),
        ),
      ),
    retrieve: (batchId) => call(async () => toRemote(await client.batches.retrieve(batchId))),
    download: (fileId) => call(async () => (await client.files.content(fileId)).text()),
  };
}
