import { Redis } from "ioredis";
import { freshPostgresDatabase, redisUrl, type TestEngine } from "../harness/databases.ts";

/**
 * The three set-ups issue 12 asks for: embedded PGlite, PostgreSQL with BullMQ's Postgres queues,
 * and Redis queues with a PostgreSQL store (on Redis logical database `redisDb`, emptied first).
 */
export function threeBackends(prefix: string, redisDb: number): TestEngine[] {
  return [
    { name: "PGlite", env: async () => ({}) },
    {
      name: "PostgreSQL queues",
      env: async () => ({
        DATABASE_URL: await freshPostgresDatabase(`${prefix}_pg`),
        QUEUE_BACKEND: "postgres",
        VECTOR_SEARCH_ENABLED: "false",
      }),
    },
    {
      name: "Redis queues + PostgreSQL",
      env: async () => {
        const url = redisUrl(redisDb);
        const redis = new Redis(url);
        await redis.flushdb();
        await redis.quit();
        return { REDIS_URL: url, DATABASE_URL: await freshPostgresDatabase(`${prefix}_rd`), VECTOR_SEARCH_ENABLED: "false" };
      },
    },
  ];
}
