import type { PrometheusMetrics } from "../adapters/metrics/prometheus.ts";
import type { SluiceConfig } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import { createEmbeddingsService, type EmbeddingsService } from "../pipeline/embeddings/index.ts";
import type { RuntimeFlags } from "../pipeline/flags/index.ts";
import type { QueueManager } from "../pipeline/queues/queue-manager.ts";
import type { ProviderRuntime } from "../pipeline/runtime/index.ts";
import type { EmbeddingBatchApi } from "../ports/batch-api.ts";
import type { Store } from "../ports/store.ts";
import { BATCH_QUEUE } from "./queues.ts";

export interface EmbeddingsDeps {
  store: Store;
  queues: QueueManager;
  runtime: ProviderRuntime;
  flags: RuntimeFlags;
  metrics: PrometheusMetrics;
  logger: Logger;
}

/** OpenAI's Batch API when OpenAI is configured. Imported only then: the OpenAI SDK is a large load on every start. */
async function openBatchApi(config: SluiceConfig): Promise<EmbeddingBatchApi | undefined> {
  const { openai } = config.ai;
  if (!openai.apiKey && !openai.baseUrl) return undefined;
  const { createOpenAIBatchApi } = await import("../adapters/provider/openai/batch-api.ts");
  return createOpenAIBatchApi({ apiKey: openai.apiKey, baseURL: openai.baseUrl });
}

/** Embeddings (ingest, search, the backfill on `ai-batch-queue`), batching through the provider's Batch API where there is one. */
export async function openEmbeddings(config: SluiceConfig, deps: EmbeddingsDeps): Promise<EmbeddingsService> {
  const batchApi = await openBatchApi(config);
  return createEmbeddingsService({ ...deps, config, queue: BATCH_QUEUE, ...(batchApi ? { batchApi } : {}) });
}
