import { Redis } from "ioredis";
import { SluiceError } from "../../../core/errors.ts";
import type { Logger } from "../../../core/logger.ts";
import type { RedisEvictionCheck } from "../../../ports/queue.ts";

export type { RedisEvictionCheck };

/**
 * BullMQ's guidance: the queue Redis must run `maxmemory-policy noeviction`. Any evicting policy
 * can delete job hashes and locks under memory pressure, which loses jobs or runs them twice.
 * (Runbook 001 advises `allkeys-lru`; that is right for a cache, wrong for a queue.)
 */

export interface EvictionCheckOptions {
  /** REDIS_ALLOW_EVICTION: run anyway (and say so in /ready). @default false */
  allowEviction?: boolean;
}

const GUIDANCE =
  "BullMQ requires maxmemory-policy noeviction on the queue Redis (https://docs.bullmq.io/guide/going-to-production#max-memory-policy): " +
  "eviction deletes job data and locks, losing or duplicating jobs. Run `CONFIG SET maxmemory-policy noeviction` (and persist it in redis.conf), " +
  "put the cache on its own Redis with CACHE_REDIS_URL, or set REDIS_ALLOW_EVICTION=true to accept the risk.";

async function readPolicy(client: Redis): Promise<{ policy: string; error?: string }> {
  try {
    const reply = (await client.call("CONFIG", "GET", "maxmemory-policy")) as string[];
    return { policy: reply[1] ?? "unknown" };
  } catch (err) {
    // Managed Redis services often rename or forbid CONFIG.
    return { policy: "unknown", error: err instanceof Error ? err.message : String(err) };
  }
}

/** Judges a policy without throwing: an unsafe, not overridden policy comes back `safe: false, overridden: false`. */
function assessEvictionPolicy(policy: string, options: EvictionCheckOptions = {}, readError?: string): RedisEvictionCheck {
  if (policy === "noeviction") return { policy, safe: true, overridden: false, message: "maxmemory-policy is noeviction" };
  const found = readError ? `could not read maxmemory-policy (${readError})` : `maxmemory-policy is ${policy}`;
  if (options.allowEviction) {
    return { policy, safe: false, overridden: true, message: `${found}; running anyway because REDIS_ALLOW_EVICTION=true. ${GUIDANCE}` };
  }
  return { policy, safe: false, overridden: false, message: `Refusing to run queues on this Redis: ${found}. ${GUIDANCE}` };
}

/** Judges a policy; throws REDIS_EVICTION_POLICY when it is unsafe and not overridden. */
function judgeEvictionPolicy(policy: string, options: EvictionCheckOptions = {}, readError?: string): RedisEvictionCheck {
  const check = assessEvictionPolicy(policy, options, readError);
  if (!check.safe && !check.overridden)
    throw new SluiceError("REDIS_EVICTION_POLICY", check.message, { details: { policy, safe: false, overridden: false } });
  return check;
}

/** Reads `CONFIG GET maxmemory-policy` on an open client and judges it. */
export async function checkEvictionPolicyOn(client: Redis, options: EvictionCheckOptions = {}): Promise<RedisEvictionCheck> {
  const { policy, error } = await readPolicy(client);
  return judgeEvictionPolicy(policy, options, error);
}

/**
 * Connects to `url`, reads `maxmemory-policy`, and returns the verdict; anything but `noeviction` is
 * refused with SluiceError REDIS_EVICTION_POLICY unless `allowEviction` is set.
 */
export async function checkRedisEvictionPolicy(url: string, options: EvictionCheckOptions = {}): Promise<RedisEvictionCheck> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on("error", () => undefined); // surfaced by connect() below
  try {
    await client.connect();
    return await checkEvictionPolicyOn(client, options);
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError(
      "DEPENDENCY_UNAVAILABLE",
      `Cannot reach Redis to check maxmemory-policy: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  } finally {
    client.disconnect();
  }
}

/** True when queues may run under this verdict: `noeviction`, or an unsafe policy overridden by REDIS_ALLOW_EVICTION. */
export const evictionAcceptable = (check: RedisEvictionCheck): boolean => check.safe || check.overridden;

export interface EvictionWatchOptions extends EvictionCheckOptions {
  /** How often the policy is read again in the background. @default 30000 */
  intervalMs?: number;
  logger?: Logger;
}

export interface EvictionWatch {
  /** The latest verdict. */
  current(): RedisEvictionCheck;
  /** Reads the policy now (e.g. for `/ready`); a read that fails keeps the previous verdict. */
  refresh(): Promise<RedisEvictionCheck>;
  stop(): void;
}

/**
 * Keeps the start-up verdict true while the process runs: `CONFIG SET maxmemory-policy` on a live
 * Redis (runbook 001's own tuning step) is otherwise invisible to a process that checked only at
 * start. Logs an error when the policy turns unacceptable and an info line when it is fixed.
 */
export function watchEvictionPolicy(client: Redis, initial: RedisEvictionCheck, options: EvictionWatchOptions = {}): EvictionWatch {
  let verdict = initial;
  let reading: Promise<RedisEvictionCheck> | undefined;
  const record = (next: RedisEvictionCheck): RedisEvictionCheck => {
    const was = evictionAcceptable(verdict);
    if (was && !evictionAcceptable(next))
      options.logger?.error({ policy: next.policy, code: "REDIS_EVICTION_POLICY" }, `queue Redis became unsafe: ${next.message}`);
    if (!was && evictionAcceptable(next)) options.logger?.info({ policy: next.policy }, "queue Redis maxmemory-policy is acceptable again");
    // Accepted by REDIS_ALLOW_EVICTION, but still a change an operator should hear about.
    if (next.overridden && next.policy !== verdict.policy)
      options.logger?.warn({ policy: next.policy, was: verdict.policy }, `queue Redis maxmemory-policy changed: ${next.message}`);
    return (verdict = next);
  };
  const read = async (): Promise<RedisEvictionCheck> => {
    const { policy, error } = await readPolicy(client);
    // A Redis that is down is the ping's to report; keep judging the policy it last had.
    if (error && client.status !== "ready") return verdict;
    return record(assessEvictionPolicy(policy, options, error));
  };
  // One read at a time, however many /ready requests and timer ticks ask at once.
  const refresh = (): Promise<RedisEvictionCheck> =>
    (reading ??= read().finally(() => {
      reading = undefined;
    }));
  const timer = setInterval(() => void refresh(), options.intervalMs ?? 30_000);
  timer.unref();
  return { current: () => verdict, refresh, stop: () => clearInterval(timer) };
}
