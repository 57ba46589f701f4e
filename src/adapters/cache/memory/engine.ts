import { LRUCache } from "lru-cache";
import { globToRegex } from "../../kv/common.ts";
import type { CacheEngine } from "../../../ports/cache.ts";

export interface MemoryEngineOptions {
  /** Most entries kept; the least recently used go first. */
  maxEntries: number;
}

export function createMemoryCacheEngine(options: MemoryEngineOptions): CacheEngine {
  const lru = new LRUCache<string, string>({ max: options.maxEntries, ttlAutopurge: false });
  let hits = 0;
  let misses = 0;
  const matcher = (pattern: string): RegExp => new RegExp(globToRegex(pattern).regex, "s");
  return {
    kind: "memory",
    counterScope: "process",
    get: async (key) => lru.get(key) ?? null,
    set: async (key, value, ttlSeconds) => void lru.set(key, value, { ttl: ttlSeconds * 1000 }),
    has: async (key) => lru.has(key),
    async clear(pattern) {
      const re = matcher(pattern);
      let removed = 0;
      for (const key of [...lru.keys()]) if (re.test(key) && lru.delete(key)) removed++;
      return removed;
    },
    async count(pattern) {
      lru.purgeStale();
      const re = matcher(pattern);
      let n = 0;
      for (const key of lru.keys()) if (re.test(key)) n++;
      return n;
    },
    countLookup(hit) {
      if (hit) hits++;
      else misses++;
    },
    counters: async () => ({ hits, misses }),
    close: async () => void lru.clear(),
  };
}
