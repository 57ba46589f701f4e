import { LRUCache } from "lru-cache";
import { globToRegex } from "../../adapters/kv/common.ts";
import { createRedisKv, type RedisKv } from "../../adapters/kv/redis/kv.ts";

/**
 * Where cached results live: Redis (`CACHE_REDIS_URL`, shared by every process, entries expire
 * by TTL and may be evicted by the server's policy) or an in-process LRU.
 */
export interface CacheEngine {
  readonly kind: "redis" | "memory";
  /** Whether hit/miss counters are kept for the whole fleet (Redis) or per process. */
  readonly counterScope: "fleet" | "process";
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  has(key: string): Promise<boolean>;
  /** Removes entries whose key matches the Redis glob; how many went. */
  clear(pattern: string): Promise<number>;
  count(pattern: string): Promise<number>;
  /** Adds to the hit/miss counters (fleet-wide on Redis). */
  countLookup(hit: boolean): void;
  counters(): Promise<{ hits: number; misses: number }>;
  close(): Promise<void>;
}

export interface RedisEngineOptions {
  url: string;
  /** Every entry key starts with it; SCAN patterns are confined to it. Ends with ":". */
  keyPrefix: string;
}

/** Entries at `<prefix><key>` with EX; counters in the hash `<prefix without ":">-stats`; SCAN + UNLINK for patterns. */
export function createRedisCacheEngine(options: RedisEngineOptions): CacheEngine {
  const kv: RedisKv = createRedisKv({ url: options.url, keyPrefix: options.keyPrefix, commandTimeoutMs: 2_000 });
  const statsKey = `${options.keyPrefix.replace(/:+$/, "")}-stats`;
  return {
    kind: "redis",
    counterScope: "fleet",
    get: (key) => kv.get(key),
    set: (key, value, ttlSeconds) => kv.set(key, value, { ttlSeconds }),
    has: async (key) => (await kv.ttl(key)) !== -2,
    clear: (pattern) => kv.deleteByPattern(pattern),
    count: (pattern) => kv.countByPattern(pattern),
    countLookup(hit) {
      kv.client.hincrby(statsKey, hit ? "hits" : "misses", 1).catch(() => undefined);
    },
    async counters() {
      const raw = await kv.client.hgetall(statsKey);
      return { hits: Number(raw.hits ?? 0), misses: Number(raw.misses ?? 0) };
    },
    close: () => kv.close(),
  };
}

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
