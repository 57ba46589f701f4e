/**
 * Embeddings store: ingest, claiming, results, reports, reindex, maintenance and search over
 * `shop_product_embeddings` / `embedding_batches` (migrations/0004_embeddings.sql). See docs/embeddings.md.
 */
export * from "./types.ts";
export { contentHash, deleteItems, deleteWorkspaceItems, getItem, upsertItems, DEFAULT_MAX_INGEST_ITEMS } from "./ingest.ts";
export type { IngestOptions, IngestResult, ItemState } from "./ingest.ts";
export { claimItems, releaseClaims, reclaimStaleClaims, STALE_CLAIM_MESSAGE, DEFAULT_CLAIM_LIMIT } from "./claim.ts";
export type { ClaimOptions, ReleaseOptions, ReclaimOptions, ReclaimResult } from "./claim.ts";
export { completeItems, failItems } from "./results.ts";
export type { CompleteOptions, CompleteResult, EmbeddingResult, Failure, FailOptions, FailResult } from "./results.ts";
export * from "./reports.ts";
export { reindexWorkspace, retryFailed } from "./reindex.ts";
export type { RetryFailedOptions } from "./reindex.ts";
export * from "./maintenance.ts";
export { searchItems, searchSql, searchParams, DEFAULT_EF_SEARCH, DEFAULT_K, MAX_SEARCH_K } from "./search-items.ts";
export type { IterativeScan, SearchContext, SearchHit, SearchQuery } from "./search-items.ts";
export * from "./batches.ts";
export { registerEmbeddingMetrics } from "./metrics.ts";
export type { EmbeddingMetrics, EmbeddingMetricsOptions } from "./metrics.ts";
export { vectorParam, validateVector, indexExpression } from "./vector-codec.ts";
export { clusteredVectors, cosineDistance, seededRandom } from "./synthetic.ts";
export type { ClusteredVectorsOptions } from "./synthetic.ts";
