import { createRedisKv, type RedisKv } from "../../kv/redis/kv.ts";
import type { CacheEngine } from "../../../ports/cache.ts";

export interface RedisEngineOptions {
  url: string;
  /** Every entry key starts with it; SCAN patterns are confined to it. Ends with ":". */
  keyPrefix: string;
  /** Longest one command may take before the lookup fails (and the task runs uncached). @default 5000 */
  commandTimeoutMs?: number;
}

/** Entries at `<prefix><key>` with EX; counters in the hash `<prefix without ":">-stats`; SCAN + UNLINK for patterns. */
export function createRedisCacheEngine(options: RedisEngineOptions): CacheEngine {
  const kv: RedisKv = createRedisKv({
    url: options.url,
    keyPrefix: options.keyPrefix,
    commandTimeoutMs: options.commandTimeoutMs ?? 5_000,
  });
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
