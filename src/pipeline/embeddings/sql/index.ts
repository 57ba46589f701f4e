/**
 * Embeddings store: ingest, claiming, results, reports, reindex, maintenance and search over
 * `shop_product_embeddings` / `embedding_batches` (migrations/0004_embeddings.sql). See docs/embeddings.md.
 */
export * from "./types.ts";
export { deleteItems, getItem, upsertItems } from "./ingest.ts";
export type { IngestResult, ItemState } from "./ingest.ts";
export { claimItems, releaseClaims, reclaimStaleClaims, STALE_CLAIM_MESSAGE } from "./claim.ts";
export type { ReclaimResult } from "./claim.ts";
export { completeItems, failItems } from "./results.ts";
export type { EmbeddingResult, Failure } from "./results.ts";
export * from "./reports.ts";
export { reindexWorkspace, retryFailed } from "./reindex.ts";
export * from "./maintenance.ts";
export { searchItems, searchSql, searchParams, DEFAULT_EF_SEARCH, DEFAULT_K } from "./search-items.ts";
export type { IterativeScan, SearchQuery } from "./search-items.ts";
export * from "./batches.ts";
export { registerEmbeddingMetrics } from "./metrics.ts";
export { vectorParam, validateVector, indexExpression } from "./vector-codec.ts";
export { clusteredVectors } from "./synthetic.ts";
