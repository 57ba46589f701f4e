/** The result cache of deterministic task calls: keys, engines (Redis, in-process LRU), warm-up. */

export { withCache } from "./cached-task.ts";
export { createResultCache, type ResultCache } from "./result-cache.ts";
export { MAX_WARM_ITEMS, warmCache } from "./warm.ts";
