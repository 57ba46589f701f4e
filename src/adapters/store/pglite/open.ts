import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";

/**
 * Opens the process's one PGlite instance with pgvector loaded. PGlite opens its data folder from
 * one process only, so the store and the queue backend share this instance.
 * `dataDir` undefined keeps everything in memory (tests).
 */
export async function openPglite(dataDir: string | undefined): Promise<PGlite> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir, extensions: { vector } });
  return db;
}
