/**
 * The key-value port behind the result cache, rate-limit bookkeeping and idempotency records.
 * Two adapters: Redis (src/adapters/kv/redis) and the SQL store's `kv_entries` table
 * (src/adapters/kv/postgres, on PGlite or a PostgreSQL server). Both pass one conformance suite
 * (tests/conformance/kv), so callers never know which one they hold.
 *
 * Keys are used exactly as given (an adapter adds a prefix only when its creator asks for one).
 * Values are strings; callers serialise. TTLs are whole seconds; an expired key is invisible to
 * every method at once, whenever its storage is actually reclaimed.
 */
type KvKind = "redis" | "postgres";

export interface KvSetOptions {
  /** Seconds until the key expires; absent (or undefined) keeps it until deleted. */
  ttlSeconds?: number;
}

/** The outcome of `setIfAbsent`: either this caller stored its value, or someone else's is there. */
export type SetIfAbsentResult = { won: true } | { won: false; existing: string };

/** `ttl()` of a key that exists without an expiry (Redis's TTL reply). */
export const KV_TTL_NONE = -1;
/** `ttl()` of a key that does not exist or has expired (Redis's TTL reply). */
export const KV_TTL_MISSING = -2;

export interface Kv {
  readonly kind: KvKind;

  /** The value, or null when the key is absent or expired. */
  get(key: string): Promise<string | null>;

  /** Stores the value, replacing any previous value and TTL. */
  set(key: string, value: string, options?: KvSetOptions): Promise<void>;

  /**
   * Stores the value only if the key is absent (or expired), atomically (Redis SET NX): of any
   * number of concurrent callers on one key exactly one wins; every other one gets the winner's
   * value back in the same call.
   */
  setIfAbsent(key: string, value: string, options?: KvSetOptions): Promise<SetIfAbsentResult>;

  /** Deletes the key; true when it existed. */
  delete(key: string): Promise<boolean>;

  /**
   * Replaces the value only while the key still holds `expected` (compare-and-set), keeping its
   * TTL; true when it replaced it. Lets a caller complete a record it made with `setIfAbsent`
   * (an idempotency claim from "pending" to its job id) without touching a value stored since.
   */
  replaceIfValue(key: string, expected: string, value: string): Promise<boolean>;

  /**
   * Whole seconds the key has left, like Redis's TTL: `KV_TTL_NONE` (-1) when it never expires,
   * `KV_TTL_MISSING` (-2) when it does not exist.
   */
  ttl(key: string): Promise<number>;

  /**
   * Deletes every key matching a Redis glob pattern (`*`, `?`, `[abc]`, `[^a-z]`, `\` escapes)
   * and returns how many went. Incremental (SCAN + UNLINK on Redis, never KEYS), so it is safe
   * on a large keyspace but not a snapshot: keys written meanwhile may or may not be included.
   */
  deleteByPattern(pattern: string): Promise<number>;

  /** Counts live keys matching a Redis glob pattern (same syntax and caveat as `deleteByPattern`). */
  countByPattern(pattern: string): Promise<number>;

  /** Round-trips to the backing server; throws when it cannot. */
  ping(): Promise<void>;

  /** Releases what the adapter owns (connections it opened, timers). Idempotent. */
  close(): Promise<void>;
}
