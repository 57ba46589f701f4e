import { cpSync, existsSync, readdirSync, renameSync } from "node:fs";
import { resolve } from "node:path";
import type { PGlite, Transaction } from "@electric-sql/pglite";
import { openPglite } from "./adapters/store/pglite/open.ts";
import { SluiceError } from "./core/errors.ts";

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

/** What `sluice restore --table` did. */
export interface TableRestoreResult {
  /** Rows now in each restored table (all of them from the backup). */
  tables: Array<{ table: string; rows: number }>;
  /** A copy of the folder as it was before, to go back to. */
  keptAs: string;
}

/**
 * Restores chosen tables of a `sluice backup` into SLUICE_DATA_DIR, leaving every other table as
 * it is: the embedded answer to `pg_restore --data-only -t <table>`. The backup is opened in memory,
 * each table's rows replace the live ones in one transaction (all tables or none), and identity
 * sequences are moved past the restored ids. The folder is copied aside first. Refused when the
 * backup's schema version differs from the folder's (the columns might not line up).
 */
export async function restoreTables(dataDir: string, backup: Uint8Array, tables: readonly string[]): Promise<TableRestoreResult> {
  const target = resolve(dataDir, "pgdata");
  if (!existsSync(target))
    throw new SluiceError(
      "VALIDATION_FAILED",
      `No embedded database in ${dataDir} to restore tables into (restore the whole backup without --table)`,
    );
  const live = await openPglite(target);
  let source: PGlite | undefined;
  try {
    source = await openPglite(undefined, { restoreFrom: new Blob([backup]) });
    await assertSameSchemaVersion(source, live);
    for (const table of tables) await assertRestorableTable(live, table);
    const keptAs = `${target}.before-restore-${Date.now()}`;
    await live.query("CHECKPOINT");
    cpSync(target, keptAs, { recursive: true, filter: (path) => !path.endsWith("sluice.pid") });
    const restored: TableRestoreResult["tables"] = [];
    const from = source;
    await live.transaction(async (tx) => {
      for (const table of tables) {
        const quoted = `"${table}"`;
        const copy = await from.query(`COPY ${quoted} TO '/dev/blob'`);
        await tx.query(`DELETE FROM ${quoted}`);
        await tx.query(`COPY ${quoted} FROM '/dev/blob'`, [], copy.blob ? { blob: copy.blob } : {});
        await moveSequencesPastRows(tx, table);
        const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoted}`);
        restored.push({ table, rows: rows[0]?.n ?? 0 });
      }
    });
    return { tables: restored, keptAs };
  } finally {
    await source?.close();
    await live.close();
  }
}

async function schemaVersion(db: PGlite): Promise<number> {
  const { rows } = await db.query<{ v: number | null }>("SELECT max(version)::int AS v FROM sluice_migrations");
  return rows[0]?.v ?? 0;
}

async function assertSameSchemaVersion(backup: PGlite, live: PGlite): Promise<void> {
  const [was, is] = await Promise.all([schemaVersion(backup), schemaVersion(live)]);
  if (was !== is)
    throw new SluiceError(
      "CONFLICT",
      `The backup has schema version ${was} and the folder ${is}: restore the whole backup (without --table), or start this Sluice version on the backup first so its migrations run`,
    );
}

async function assertRestorableTable(db: PGlite, table: string): Promise<void> {
  if (table === "sluice_migrations")
    throw new SluiceError("VALIDATION_FAILED", "sluice_migrations records the schema; it is not restored on its own");
  const { rows } = await db.query(
    "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name = $1",
    [table],
  );
  if (rows.length === 0) throw new SluiceError("NOT_FOUND", `No table "${table}" in the embedded database (sluice sql "\\dt" lists them)`);
}

/** Identity and serial columns: the next id must come after the restored rows'. */
async function moveSequencesPastRows(tx: Transaction, table: string): Promise<void> {
  const { rows } = await tx.query<{ column_name: string; seq: string }>(
    `SELECT column_name, pg_get_serial_sequence(quote_ident($1), column_name) AS seq FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = $1 AND pg_get_serial_sequence(quote_ident($1), column_name) IS NOT NULL`,
    [table],
  );
  for (const { column_name, seq } of rows) {
    await tx.query(`SELECT setval($1, coalesce((SELECT max("${column_name}") FROM "${table}"), 0) + 1, false)`, [seq]);
  }
}
