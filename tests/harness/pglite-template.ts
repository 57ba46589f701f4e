import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { fileTempDir } from "./temp-dirs.ts";

/**
 * A PGlite cluster with Sluice's schema in place (migrations run, no row of anyone's), made once
 * per test run and copied into each new embedded data folder. Opening a folder costs about 1 s of
 * CPU; initdb on a new one about 8 s more, and the migrations about 0.8 s, which every `sluice
 * dev` and every in-process Sluice paid (the way Graphile Worker's tests copy a template database).
 * A test of a first start on a new folder asks for the bare cluster (`{ migrated: false }`).
 */
const PGLITE_TEMPLATE_ENV = "SLUICE_TEST_PGLITE_TEMPLATE";
const BARE_TEMPLATE_ENV = "SLUICE_TEST_PGLITE_TEMPLATE_BARE";

interface SeedOptions {
  /** Sluice's migrations already run (the default), or the bare cluster initdb leaves. */
  migrated?: boolean;
}

/** For a vitest globalSetup: creates both templates and announces them to the workers (forked later). */
export async function createPgliteTemplate(): Promise<{ dir: string; remove(): void }> {
  const root = mkdtempSync(join(tmpdir(), "sluice-pglite-template-"));
  const bare = join(root, "bare", "pgdata");
  mkdirSync(join(root, "bare"));
  // Liftoff only, as in the test workers (vitest.config.ts): the run's main process does initdb and
  // the migrations once, before any test starts, and V8's optimising compiler cost more than it saved
  // (the globalSetup took about 3 s less CPU).
  setFlagsFromString("--liftoff-only");
  const { PGlite } = await import("@electric-sql/pglite");
  const db = await PGlite.create({ dataDir: bare });
  await db.close();
  // initdb sizes shared_buffers at 128MB, and PostgreSQL zeroes them at every start: about 0.7 s of
  // CPU per open in WASM, paid by every embedded Sluice a test starts. A test's data is a few MB:
  // 4MB against 16MB took 3-4 % less CPU over ten PGlite-heavy files, all passing.
  appendFileSync(join(bare, "postgresql.conf"), "\n# Sluice tests: small data, faster starts\nshared_buffers = 4MB\n");
  const migratedDataDir = join(root, "migrated");
  cpSync(bare, join(migratedDataDir, "pgdata"), { recursive: true });
  // Sluice's own start runs every migration (its tables, BullMQ's schema, pgvector) and adds no row.
  const { createSluice } = await import("../../src/sluice.ts");
  await (await createSluice({ env: { LOG_LEVEL: "silent", SLUICE_DATA_DIR: migratedDataDir } })).close();
  process.env[BARE_TEMPLATE_ENV] = bare;
  process.env[PGLITE_TEMPLATE_ENV] = join(migratedDataDir, "pgdata");
  return { dir: root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * Copies the run's template into `pgdata` (a new PGlite data folder, e.g. `<SLUICE_DATA_DIR>/pgdata`);
 * false, and nothing done, without a template (a test run without the globalSetup) or when
 * `pgdata` exists already.
 */
export function seedPgliteDataDir(pgdata: string, options: SeedOptions = {}): boolean {
  const template = process.env[options.migrated === false ? BARE_TEMPLATE_ENV : PGLITE_TEMPLATE_ENV];
  if (!template || !existsSync(template) || existsSync(join(pgdata, "PG_VERSION"))) return false;
  cpSync(template, pgdata, { recursive: true });
  return true;
}

/** A new temp folder for SLUICE_DATA_DIR whose `pgdata` starts from the run's template. */
export function newEmbeddedDataDir(prefix = "sluice-data-", options: SeedOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  seedPgliteDataDir(join(dir, "pgdata"), options);
  return dir;
}

/**
 * A PGlite data folder for a test that wants a fresh cluster of its own, copied from the run's
 * template: opening it costs about 1.5 s of CPU where an in-memory PGlite (its own initdb) costs
 * about 6 s. The bare cluster by default, as an in-memory one would be (`{ migrated: true }` for
 * Sluice's schema in place); an empty folder, which PGlite initdb's, in a run without the
 * globalSetup. Removed after the test file, once its own hooks closed it.
 */
export function testPgliteDataDir(options: SeedOptions = {}): string {
  const pgdata = join(fileTempDir("sluice-pglite-"), "pgdata");
  seedPgliteDataDir(pgdata, { migrated: options.migrated ?? false });
  return pgdata;
}
