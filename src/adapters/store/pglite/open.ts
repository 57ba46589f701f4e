import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { SluiceError } from "../../../core/errors.ts";

const LOCK_FILE = "sluice.pid";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * PGlite's files must be opened by one process only; a second opener corrupts them. A pid file
 * makes the second one fail with a clear message instead (a stale file from a dead process is taken over).
 */
function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE);
  let holder: number | undefined;
  try {
    holder = Number(readFileSync(file, "utf8").trim());
  } catch {
    holder = undefined;
  }
  if (holder && holder !== process.pid && processAlive(holder)) {
    throw new SluiceError(
      "DATA_DIR_LOCKED",
      `Another Sluice process (pid ${holder}) has ${dataDir} open. Stop it, or talk to it through its API (--url, --api-key).`,
    );
  }
  writeFileSync(file, String(process.pid));
  return () => rmSync(file, { force: true });
}

/**
 * Opens the process's one PGlite instance with pgvector loaded. The store and the queue backend
 * share this instance. `dataDir` undefined keeps everything in memory (tests).
 */
export async function openPglite(dataDir: string | undefined, options: { restoreFrom?: Blob } = {}): Promise<PGlite> {
  const load = options.restoreFrom ? { loadDataDir: options.restoreFrom } : {};
  if (!dataDir) return PGlite.create({ extensions: { vector }, ...load });
  mkdirSync(dataDir, { recursive: true });
  const unlock = lockDataDir(dataDir);
  try {
    const db = await PGlite.create({ dataDir, extensions: { vector }, ...load });
    const close = db.close.bind(db);
    db.close = async () => {
      await close();
      unlock();
    };
    return db;
  } catch (err) {
    unlock();
    throw err;
  }
}
