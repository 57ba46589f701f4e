import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { SluiceError } from "../core/errors.ts";
import type { Queryable, Store } from "../ports/store.ts";

interface Migration {
  version: number;
  name: string;
  sql: string;
  /** Needs the pgvector extension (declared by a `-- requires: vector` line). */
  requiresVector: boolean;
}

export interface MigrateOptions {
  /**
   * When the server lacks pgvector: true fails with PGVECTOR_MISSING; false skips the vector
   * migrations (search and embeddings then stay off). @default true
   */
  requireVector?: boolean;
  /** Folder of the versioned `NNNN_name.sql` files. @default the repo's migrations/ */
  directory?: string;
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
  current: number;
}

// From src/pipeline (tsx, tests) the folder is two levels up; from the build in dist/src/pipeline, three.
const DEFAULT_DIRECTORY =
  [new URL("../../migrations/", import.meta.url), new URL("../../../migrations/", import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((dir) => existsSync(dir)) ?? fileURLToPath(new URL("../../migrations/", import.meta.url));
// Any fixed number: every Sluice process takes the same lock, so two starters never interleave.
const MIGRATION_LOCK_KEY = 7_102_335_411;

function loadMigrations(directory = DEFAULT_DIRECTORY): Migration[] {
  return readdirSync(directory)
    .filter((file) => /^\d{4}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(`${directory}/${file}`, "utf8");
      return {
        version: Number(file.slice(0, 4)),
        name: file.replace(/\.sql$/, ""),
        sql,
        requiresVector: /^--\s*requires:\s*vector\s*$/m.test(sql),
      };
    });
}

async function appliedVersions(tx: Queryable): Promise<Set<number>> {
  await tx.query(`CREATE TABLE IF NOT EXISTS sluice_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const { rows } = await tx.query<{ version: number }>("SELECT version FROM sluice_migrations");
  return new Set(rows.map((r) => r.version));
}

/**
 * Applies pending migrations in one transaction under an advisory lock: re-running is a no-op,
 * and a second process starting at the same moment waits, then finds nothing left to do.
 */
export async function migrate(store: Store, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = loadMigrations(options.directory);
  const vectorAvailable = await store.hasVectorExtension();
  if (!vectorAvailable && (options.requireVector ?? true)) {
    throw new SluiceError(
      "PGVECTOR_MISSING",
      "pgvector is not installed on this server: install it (Debian/Ubuntu: the postgresql-NN-pgvector package from apt.postgresql.org) " +
        "or set VECTOR_SEARCH_ENABLED=false to run without embeddings and search",
    );
  }
  try {
    return await store.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
      const done = await appliedVersions(tx);
      const result: MigrateResult = { applied: [], skipped: [], current: 0 };
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        if (migration.requiresVector && !vectorAvailable) {
          result.skipped.push(migration.name);
          continue;
        }
        await tx.exec(migration.sql);
        await tx.query("INSERT INTO sluice_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
        result.applied.push(migration.name);
      }
      const { rows } = await tx.query<{ v: number | null }>("SELECT max(version) AS v FROM sluice_migrations");
      result.current = rows[0]?.v ?? 0;
      return result;
    });
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError("MIGRATION_FAILED", `Database migration failed: ${(err as Error).message}`, { cause: err });
  }
}
