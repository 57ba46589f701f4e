/**
 * The embeddings backfill on `ai-batch-queue` (sync and provider-batch modes, kill switch, sweep),
 * search through the provider runtime, and the audited operations of runbook 000. See docs/embeddings.md.
 */
export { createEmbeddingsService, resolveBackfillOptions, type BacklogView, type EmbeddingsService, type EmbeddingsServiceOptions, type IngestSummary } from "./service.ts";
export { BACKFILL_DISABLED_MESSAGE, BACKFILL_ENABLED_MESSAGE, createBackfillSwitch, type BackfillSwitch, type BackfillSwitchOptions } from "./kill-switch.ts";
export { SWEEP_JOB, SWEEP_SCHEDULER, WORKSPACE_JOB, workspaceDedupId, type DrainSummary, type ResolvedBackfillOptions, type StopReason } from "./context.ts";
export { buildInputJsonl, parseOutputJsonl, type EmbeddingBatchApi, type RemoteBatch, type RemoteBatchStatus } from "./batch-jsonl.ts";
export type { SearchRequest, SearchResponse } from "./search.ts";
export { MAX_SEARCH_K } from "./sql/search-items.ts";
export type { SweepResult } from "./worker.ts";
export type { PollResult } from "./poll-batches.ts";
