import type { QueueBackend } from "../../ports/queue.ts";
import { createPgliteQueueBackend, type PgliteQueueBackendOptions } from "./pglite/backend.ts";
import { createPostgresQueueBackend, type PostgresQueueBackendOptions } from "./postgres/backend.ts";
import { createRedisQueueBackend, type RedisQueueBackendOptions } from "./redis/backend.ts";

export type * from "../../ports/queue.ts";
export type QueueBackendOptions = RedisQueueBackendOptions | PostgresQueueBackendOptions | PgliteQueueBackendOptions;
export { checkRedisEvictionPolicy } from "./redis/eviction.ts";

/** Builds the backend for `options.kind`, migrating BullMQ's schema on the Postgres kinds. */
export async function createQueueBackend(options: QueueBackendOptions): Promise<QueueBackend> {
  switch (options.kind) {
    case "redis":
      return createRedisQueueBackend(options);
    case "postgres":
      return createPostgresQueueBackend(options);
    case "pglite":
      return createPgliteQueueBackend(options);
  }
}
