import { existsSync, readdirSync, renameSync } from "node:fs";
import { resolve } from "node:path";
import { openPglite } from "./adapters/store/pglite/open.ts";

/** What `sluice restore` did to the embedded folder. */
export interface RestoreResult {
  target: string;
  /** Where the database that was there went, if one was. */
  movedAside: string | undefined;
  migrations: number;
}

/**
 * Restores a `sluice backup` tarball into SLUICE_DATA_DIR/pgdata, keeping what was there as
 * `pgdata.before-restore-<time>`. Opening the old folder takes its lock, so a running Sluice makes
 * this fail with DATA_DIR_LOCKED before anything moves.
 */
export async function restoreDataFolder(dataDir: string, backup: Uint8Array): Promise<RestoreResult> {
  const target = resolve(dataDir, "pgdata");
  let movedAside: string | undefined;
  if (existsSync(target) && readdirSync(target).some((f) => f !== "sluice.pid")) {
    movedAside = `${target}.before-restore-${Date.now()}`;
    await (await openPglite(target)).close();
    renameSync(target, movedAside);
  }
  const db = await openPglite(target, { restoreFrom: new Blob([backup]) });
  try {
    const { rows } = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM sluice_migrations");
    return { target, movedAside, migrations: Number(rows[0]?.n ?? 0) };
  } finally {
    await db.close();
  }
}
