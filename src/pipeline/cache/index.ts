/** The result cache of deterministic task calls: keys, engines (Redis, in-process LRU), warm-up. */

export { withCache } from "./cached-task.ts";
export type { CacheEngine } from "../../ports/cache.ts";
export { cacheKey, canonicalJson, type CacheKeyParts } from "./key.ts";
export { createResultCache, type CachePolicy, type CacheStats, type ResultCache, type ResultCacheOptions } from "./result-cache.ts";
export { MAX_WARM_ITEMS, warmCache, type WarmItem, type WarmOptions, type WarmReport, type WarmStatus } from "./warm.ts";
