import type { Logger } from "../../../core/logger.ts";
import { createRedisBackend, withBackend } from "bullmq";
import { Redis } from "ioredis";
import { SluiceError } from "../../../core/errors.ts";
import type { QueueBackend, QueueBackendHealth } from "../../../ports/queue.ts";
import { bindClasses, measureHealth } from "../common.ts";
import { checkEvictionPolicyOn, evictionAcceptable, watchEvictionPolicy, type EvictionWatch } from "./eviction.ts";

export interface RedisQueueBackendOptions {
  kind: "redis";
  url: string;
  /**
   * Key prefix for every queue key (`{prefix}:{queue}:...`). Wrap it in braces, e.g. `{sluice}`, on Redis Cluster.
   * @default "bull"
   */
  prefix?: string | undefined;
  /** Run queues even when `maxmemory-policy` is not `noeviction` (REDIS_ALLOW_EVICTION). @default false */
  allowEviction?: boolean;
  /** How often `maxmemory-policy` is read again while running (REDIS_EVICTION_CHECK_MS); health checks also read it. @default 30000 */
  evictionCheckIntervalMs?: number;
  /** Where a policy that turns unsafe while running is reported (an error line). */
  logger?: Logger;
}

const CONNECT_TIMEOUT_MS = 10_000;

async function connectOrFail(client: Redis, url: string): Promise<void> {
  try {
    await client.connect();
  } catch (err) {
    throw new SluiceError(
      "DEPENDENCY_UNAVAILABLE",
      `Cannot connect to the queue Redis at ${new URL(url).host}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/**
 * BullMQ on Redis. Two shared clients: producers fail a command after a few retries (an API
 * request should error, not hang, while Redis is away); workers retry forever
 * (`maxRetriesPerRequest: null`, which BullMQ requires for their blocking connection).
 */
export async function createRedisQueueBackend(options: RedisQueueBackendOptions): Promise<QueueBackend> {
  const common = { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS };
  const producer = new Redis(options.url, { ...common, maxRetriesPerRequest: 3 });
  const consumer = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
  // Connection errors are reported by ping/health; an unhandled 'error' event would crash the process.
  for (const client of [producer, consumer]) client.on("error", () => undefined);
  let eviction;
  try {
    await connectOrFail(producer, options.url);
    eviction = await checkEvictionPolicyOn(producer, { allowEviction: options.allowEviction ?? false });
    await connectOrFail(consumer, options.url);
  } catch (err) {
    producer.disconnect();
    consumer.disconnect();
    throw err;
  }
  const watch = watchEvictionPolicy(producer, eviction, {
    allowEviction: options.allowEviction ?? false,
    ...(options.evictionCheckIntervalMs ? { intervalMs: options.evictionCheckIntervalMs } : {}),
    ...(options.logger ? { logger: options.logger.child({ component: "queue-redis" }) } : {}),
  });
  const prefix = options.prefix ?? "bull";
  const ping = async () => {
    try {
      await producer.ping();
    } catch (err) {
      throw new SluiceError("DEPENDENCY_UNAVAILABLE", `Queue Redis does not answer: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  };
  let closing: Promise<void> | undefined;
  return {
    kind: "redis",
    ...bindClasses(withBackend(createRedisBackend)),
    queueOptions: { connection: producer, prefix },
    workerOptions: { connection: consumer, prefix },
    fleetWideWorkerCount: true,
    ping,
    health: () => health(ping, watch),
    close: () =>
      (closing ??= (async () => {
        watch.stop();
        await Promise.allSettled([producer.quit(), consumer.quit()]);
        producer.disconnect();
        consumer.disconnect();
      })()),
  };
}

/** Reads the policy again on every health check (so `/ready` is never staler than the request) and fails it when unacceptable. */
async function health(ping: () => Promise<void>, watch: EvictionWatch): Promise<QueueBackendHealth> {
  const [result, eviction] = await Promise.all([measureHealth("redis", ping), watch.refresh()]);
  if (!result.ok || evictionAcceptable(eviction)) return { ...result, reachable: result.ok, eviction };
  return { ...result, ok: false, reachable: true, error: eviction.message, eviction };
}
