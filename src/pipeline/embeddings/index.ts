/**
 * The embeddings backfill on `ai-batch-queue` (sync and provider-batch modes, kill switch, sweep),
 * search through the provider runtime, and the audited operations of runbook 000. See docs/embeddings.md.
 */
export { createEmbeddingsService, type EmbeddingsService } from "./service.ts";
