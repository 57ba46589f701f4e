import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../../src/server/app.ts";
import type { Logger } from "../../src/core/logger.ts";
import { createSluice, type Sluice } from "../../src/sluice.ts";
import { seedPgliteDataDir } from "./pglite-template.ts";

export interface TestSluice {
  sluice: Sluice;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** A Sluice on embedded PGlite in a temp folder (or on the env given), with its HTTP app, for app.inject tests. */
export async function startTestSluice(
  env: Record<string, string | undefined> = {},
  options: { logger?: Logger } = {},
): Promise<TestSluice> {
  const dataDir = mkdtempSync(join(tmpdir(), "sluice-test-"));
  if (!env.DATABASE_URL && !env.SLUICE_DATA_DIR) seedPgliteDataDir(join(dataDir, "pgdata"));
  const sluice = await createSluice({ env: { LOG_LEVEL: "silent", SLUICE_DATA_DIR: dataDir, ...env }, ...options });
  const app = await buildServer(sluice);
  await app.ready();
  return {
    sluice,
    app,
    async close() {
      await app.close();
      await sluice.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
