import type { QueueBackend, QueueBackendOptions } from "./backend-types.ts";
import { createPgliteQueueBackend } from "./pglite-backend.ts";
import { createPostgresQueueBackend } from "./postgres-backend.ts";
import { createRedisQueueBackend } from "./redis-backend.ts";

export type * from "./backend-types.ts";
export { checkRedisEvictionPolicy, type RedisEvictionCheck } from "./redis-eviction.ts";

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

