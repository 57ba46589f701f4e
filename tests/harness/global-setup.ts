import type { TestProject } from "vitest/node";
import { startPostgres, startRedis, type RunningServer } from "./servers.ts";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
    postgresUrl: string;
  }
}

/** One Redis and one PostgreSQL server for the whole run; each test file makes its own database or key prefix. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const servers: RunningServer[] = [];
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  servers.push(redis, postgres);
  project.provide("redisUrl", redis.url);
  project.provide("postgresUrl", postgres.url);
  return async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
}
