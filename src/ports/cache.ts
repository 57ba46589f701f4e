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
