import { Redis } from "ioredis";
import { SluiceError } from "../../../core/errors.ts";
import { KV_TTL_MISSING, type Kv, type SetIfAbsentResult } from "../../../ports/kv.ts";
import { escapeGlob, resolveTtl } from "../common.ts";

// SET NX inside a script so that losing and reading the winner's value is one atomic step:
// a separate GET could find the key already deleted or expired.
const SET_IF_ABSENT = `
local ok
if ARGV[2] == '' then ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) end
if ok then return {1} end
return {0, redis.call('GET', KEYS[1])}`;

// KEEPTTL (Redis 6+): completing a record must not extend or drop its expiry.
const REPLACE_IF_VALUE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1`;

const SCAN_COUNT = 500;

interface ScriptedRedis {
  sluiceKvSetIfAbsent(key: string, value: string, ttl: string): Promise<[number, string?]>;
  sluiceKvReplaceIfValue(key: string, expected: string, value: string): Promise<number>;
}

/** Reply errors (WRONGTYPE, scripts) are bugs and stay as they are; anything else means Redis is unreachable. */
function translateRedisError(err: unknown): unknown {
  if (err instanceof SluiceError) return err;
  if ((err as Error | undefined)?.name === "ReplyError") return err;
  return new SluiceError("DEPENDENCY_UNAVAILABLE", `Redis unavailable: ${(err as Error | undefined)?.message ?? String(err)}`, {
    cause: err,
  });
}

async function guarded<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw translateRedisError(err);
  }
}

export interface RedisKvOptions {
  /** A `redis://` or `rediss://` URL; the adapter opens (and on close, quits) its own client. */
  url?: string;
  /** A client to share instead of `url`; the adapter leaves it open on close. */
  client?: Redis;
  /** Prepended to every key and pattern; keys are used exactly as given otherwise. @default "" */
  keyPrefix?: string;
  /** Per-command timeout for a client opened from `url`. @default 5000 */
  commandTimeoutMs?: number;
}

export type RedisKv = Kv & { readonly kind: "redis"; readonly client: Redis };

function openClient(options: RedisKvOptions): { client: Redis; owned: boolean } {
  if (options.client) return { client: options.client, owned: false };
  if (!options.url) throw new SluiceError("CONFIG_INVALID", "The Redis Kv needs a url or a client");
  const client = new Redis(options.url, {
    // Fail a command quickly while Redis is down rather than queueing requests behind it.
    maxRetriesPerRequest: 2,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
    connectTimeout: 5_000,
  });
  // Reconnection is automatic; without a listener a refused connection would crash the process.
  client.on("error", () => undefined);
  return { client, owned: true };
}

/** The Kv port on Redis: SET NX for setIfAbsent, SCAN + UNLINK for patterns (never KEYS). */
export function createRedisKv(options: RedisKvOptions): RedisKv {
  const { client, owned } = openClient(options);
  const prefix = options.keyPrefix ?? "";
  const k = (key: string): string => prefix + key;
  const p = (pattern: string): string => escapeGlob(prefix) + pattern;
  client.defineCommand("sluiceKvSetIfAbsent", { numberOfKeys: 1, lua: SET_IF_ABSENT });
  client.defineCommand("sluiceKvReplaceIfValue", { numberOfKeys: 1, lua: REPLACE_IF_VALUE });
  const scripted = client as unknown as ScriptedRedis;
  let closed = false;

  async function scan(pattern: string, onBatch: (keys: string[]) => Promise<void>): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", p(pattern), "COUNT", SCAN_COUNT);
      cursor = next;
      if (keys.length > 0) await onBatch(keys);
    } while (cursor !== "0");
  }

  return {
    kind: "redis",
    client,
    get: (key) => guarded(() => client.get(k(key))),
    set: (key, value, opts) =>
      guarded(async () => {
        const ttl = resolveTtl(opts);
        if (ttl === undefined) await client.set(k(key), value);
        else await client.set(k(key), value, "EX", ttl);
      }),
    setIfAbsent: (key, value, opts) =>
      guarded(async (): Promise<SetIfAbsentResult> => {
        const ttl = resolveTtl(opts);
        const [won, existing] = await scripted.sluiceKvSetIfAbsent(k(key), value, ttl === undefined ? "" : String(ttl));
        return won === 1 ? { won: true } : { won: false, existing: existing ?? "" };
      }),
    delete: (key) => guarded(async () => (await client.unlink(k(key))) > 0),
    replaceIfValue: (key, expected, value) => guarded(async () => (await scripted.sluiceKvReplaceIfValue(k(key), expected, value)) === 1),
    ttl: (key) =>
      guarded(async () => {
        const ttl = await client.ttl(k(key));
        return ttl < KV_TTL_MISSING ? KV_TTL_MISSING : ttl;
      }),
    deleteByPattern: (pattern) =>
      guarded(async () => {
        let deleted = 0;
        // UNLINK of a key SCAN returned twice counts 0 the second time, so the sum is exact.
        await scan(pattern, async (keys) => {
          deleted += await client.unlink(...keys);
        });
        return deleted;
      }),
    countByPattern: (pattern) =>
      guarded(async () => {
        // SCAN may return a key more than once; count distinct keys.
        const seen = new Set<string>();
        await scan(pattern, async (keys) => {
          for (const key of keys) seen.add(key);
        });
        return seen.size;
      }),
    ping: () =>
      guarded(async () => {
        await client.ping();
      }),
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await client.quit().catch(() => client.disconnect());
    },
  };
}
