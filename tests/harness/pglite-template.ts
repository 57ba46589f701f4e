import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A PGlite cluster as PGlite's own initdb leaves it (no extension, no table: Sluice's migrations
 * have not run), made once per test run and copied into each new embedded data folder. Opening a
 * folder costs about 2 s of CPU; initdb on a new one about 8 s more, which every `sluice dev` and
 * every in-process Sluice paid (the way Graphile Worker's tests copy a template database).
 */
const PGLITE_TEMPLATE_ENV = "SLUICE_TEST_PGLITE_TEMPLATE";

/** For a vitest globalSetup: creates the template and announces it to the workers (forked later). */
export async function createPgliteTemplate(): Promise<{ dir: string; remove(): void }> {
  const root = mkdtempSync(join(tmpdir(), "sluice-pglite-template-"));
  const dir = join(root, "pgdata");
  const { PGlite } = await import("@electric-sql/pglite");
  const db = await PGlite.create({ dataDir: dir });
  await db.close();
  process.env[PGLITE_TEMPLATE_ENV] = dir;
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * Copies the run's template into `pgdata` (a new PGlite data folder, e.g. `<SLUICE_DATA_DIR>/pgdata`);
 * false, and nothing done, without a template (a test run without the globalSetup) or when
 * `pgdata` exists already.
 */
export function seedPgliteDataDir(pgdata: string): boolean {
  const template = process.env[PGLITE_TEMPLATE_ENV];
  if (!template || !existsSync(template) || existsSync(join(pgdata, "PG_VERSION"))) return false;
  cpSync(template, pgdata, { recursive: true });
  return true;
}

/** A new temp folder for SLUICE_DATA_DIR whose `pgdata` starts from the run's template. */
export function newEmbeddedDataDir(prefix = "sluice-data-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  seedPgliteDataDir(join(dir, "pgdata"));
  return dir;
}
