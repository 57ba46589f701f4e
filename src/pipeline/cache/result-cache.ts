import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { TaskHandler } from "../tasks/registry.ts";
import type { CacheEngine } from "../../ports/cache.ts";
import type { CacheKeyParts } from "./key.ts";

/**
 * The result cache of deterministic task calls. A lookup or store that fails (Redis down) is
 * logged and counted as a miss: the cache may make a job cheaper, never make it fail.
 */

export interface CachePolicy<I = unknown, O = unknown> {
  /** The key parts of this input, or undefined when this call is not to be cached. */
  keyOf(input: I): CacheKeyParts | undefined;
  /** Whether an output may be stored (a fallback answer may not). @default always */
  storable?(output: O): boolean;
  /** The task's own handler, without the cache, for warm-up. */
  run: TaskHandler<I, O>;
}

interface CacheStats {
  engine: "redis" | "memory";
  enabled: boolean;
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before any lookup. */
  hit_rate: number;
  keys: number;
  ttl_seconds: number;
  /** `fleet`: counters shared by every process through Redis; `process`: this process only. */
  counters: "fleet" | "process";
  /** Task types whose calls are cached. */
  tasks: string[];
}

export interface ResultCacheOptions {
  engine: CacheEngine;
  metrics: Metrics;
  logger: Logger;
  /** @default 86400 */
  ttlSeconds?: number;
  /** False turns lookups and stores off (stats and admin still answer). @default true */
  enabled?: boolean;
}

export interface ResultCache {
  readonly enabled: boolean;
  readonly engine: CacheEngine["kind"];
  /** The cached value, or undefined; counts a hit or a miss. */
  lookup<T>(key: string, task: string): Promise<T | undefined>;
  store(key: string, value: unknown): Promise<void>;
  has(key: string): Promise<boolean>;
  /** Removes entries by Redis glob over the key space (`*` = everything); never KEYS or FLUSHDB. */
  clear(pattern?: string): Promise<number>;
  stats(): Promise<CacheStats>;
  /** Makes a task type cache-aware (warm-up finds it here). */
  register<I, O>(task: string, policy: CachePolicy<I, O>): void;
  policy(task: string): CachePolicy | undefined;
  close(): Promise<void>;
}

const PATTERN = /^[\x21-\x7e]{1,500}$/;

export function createResultCache(options: ResultCacheOptions): ResultCache {
  const { engine, logger } = options;
  const ttl = options.ttlSeconds ?? 86_400;
  const enabled = options.enabled ?? true;
  const hits = options.metrics.counter({
    name: "ai_cache_hits_total",
    help: "Task results served from the result cache",
    labelNames: ["task"],
  });
  const misses = options.metrics.counter({
    name: "ai_cache_misses_total",
    help: "Cacheable task calls not found in the result cache",
    labelNames: ["task"],
  });
  const policies = new Map<string, CachePolicy>();

  return {
    enabled,
    engine: engine.kind,
    async lookup<T>(key: string, task: string): Promise<T | undefined> {
      let raw: string | null = null;
      try {
        raw = await engine.get(key);
      } catch (err) {
        logger.warn({ err, task }, "cache lookup failed; treating as a miss");
      }
      const hit = raw !== null;
      (hit ? hits : misses).inc({ task });
      engine.countLookup(hit);
      return hit ? (JSON.parse(raw as string) as T) : undefined;
    },
    async store(key, value) {
      try {
        await engine.set(key, JSON.stringify(value), ttl);
      } catch (err) {
        logger.warn({ err }, "cache store failed");
      }
    },
    has: (key) => engine.has(key),
    async clear(pattern = "*") {
      if (!PATTERN.test(pattern))
        throw new SluiceError("VALIDATION_FAILED", "pattern is a Redis glob of 1-500 printable characters without spaces");
      return engine.clear(pattern);
    },
    async stats() {
      const [{ hits: h, misses: m }, keys] = await Promise.all([engine.counters(), engine.count("*")]);
      return {
        engine: engine.kind,
        enabled,
        hits: h,
        misses: m,
        hit_rate: h + m === 0 ? 0 : Math.round((h / (h + m)) * 10_000) / 10_000,
        keys,
        ttl_seconds: ttl,
        counters: engine.counterScope,
        tasks: [...policies.keys()].sort(),
      };
    },
    register(task, policy) {
      policies.set(task, policy as CachePolicy);
    },
    policy: (task) => policies.get(task),
    close: () => engine.close(),
  };
}
