/** The result cache of deterministic task calls: keys, engines (Redis, in-process LRU), warm-up. */
import type { SluiceConfig } from "../../core/config.ts";
import { createMemoryCacheEngine, createRedisCacheEngine, type CacheEngine } from "./engines.ts";

export { withCache } from "./cached-task.ts";
export { createMemoryCacheEngine, createRedisCacheEngine, type CacheEngine } from "./engines.ts";
export { cacheKey, canonicalJson, type CacheKeyParts } from "./key.ts";
export { createResultCache, type CachePolicy, type CacheStats, type ResultCache, type ResultCacheOptions } from "./result-cache.ts";
export { MAX_WARM_ITEMS, warmCache, type WarmItem, type WarmOptions, type WarmReport, type WarmStatus } from "./warm.ts";

/** Redis on `CACHE_REDIS_URL` (else `REDIS_URL`) when set, else the in-process LRU. */
export function cacheEngineFromConfig(config: SluiceConfig): CacheEngine {
  const prefix = config.cache.keyPrefix.endsWith(":") ? config.cache.keyPrefix : `${config.cache.keyPrefix}:`;
  if (config.redis.cacheUrl) return createRedisCacheEngine({ url: config.redis.cacheUrl, keyPrefix: prefix });
  return createMemoryCacheEngine({ maxEntries: config.cache.maxEntries });
}
