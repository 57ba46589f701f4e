import type { TestProject } from "vitest/node";
import { buildDist } from "./build.ts";
import { createPgliteTemplate } from "./pglite-template.ts";
import { createPidNet } from "./processes.ts";
import { startPostgres, startRedis, type RunningServer } from "./servers.ts";
import { useRamTempDir } from "./temp-dirs.ts";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
    postgresUrl: string;
  }
}

/**
 * Once per run: compile dist/ (tests start the compiled `sluice`, never a stale one), one Redis and
 * one PostgreSQL server for the whole run (each test file makes its own database or key prefix),
 * the run's temp folders on a RAM disk when there is one (tests/harness/temp-dirs.ts), the pid
 * folder where every spawned process is listed (tests/harness/processes.ts), and the PGlite
 * template that new embedded data folders start from (tests/harness/pglite-template.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // First: every temp folder of the run (servers, templates, tests) goes where it is made.
  const tempRoot = useRamTempDir();
  const pids = createPidNet();
  const servers: RunningServer[] = [];
  const [redis, postgres, template] = await Promise.all([startRedis(), startPostgres(), createPgliteTemplate(), buildDist()]).catch(
    (err: unknown) => {
      // A failed start: the net kills the servers that did start; the RAM disk's folder is memory, given back.
      pids.teardown();
      tempRoot?.remove();
      throw err;
    },
  );
  servers.push(redis, postgres);
  project.provide("redisUrl", redis.url);
  project.provide("postgresUrl", postgres.url);
  return async () => {
    await Promise.all(servers.map((s) => s.stop()));
    // The last net: processes whose test worker died before it could stop them.
    pids.teardown();
    template.remove();
    tempRoot?.remove();
  };
}
