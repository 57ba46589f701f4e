import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

/** `sluice backup` (live, through the admin API) and `sluice restore` (offline, into the data folder). */
export function registerBackupCommands(program: Command): void {
  withClientOptions(program.command("backup"))
    .description("download a live backup of the embedded database (PostgreSQL servers: use pg_dump)")
    .requiredOption("--out <file>", "where to write the .tar.gz")
    .action(async (flags: ClientFlags & { out: string }) => {
      const client = clientFor(flags);
      const headers: Record<string, string> = flags.apiKey ? { authorization: `Bearer ${flags.apiKey}` } : {};
      const response = await fetch(`${client.base}/api/admin/backup`, { headers });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
        throw new Error(`${body.error?.code ?? response.status}: ${body.error?.message ?? "backup failed"}`);
      }
      const bytes = Buffer.from(await response.arrayBuffer());
      writeFileSync(flags.out, bytes);
      console.log(`Wrote ${bytes.byteLength} bytes to ${flags.out}.`);
    });

  program
    .command("restore")
    .description("restore a backup into SLUICE_DATA_DIR (Sluice must be stopped; the old data is kept as pgdata.before-restore-<time>)")
    .requiredOption("--from <file>", "a .tar.gz written by `sluice backup`")
    .option("--table <name...>", "restore only these tables' rows, keep every other table as it is (pg_restore --data-only -t)")
    .action(async (flags: { from: string; table?: string[] }) => {
      // Imported here: PGlite is heavy and no other command of this file needs it.
      const [{ restoreDataFolder, restoreTables }, { loadConfig }] = await Promise.all([
        import("../../embedded-folder.ts"),
        import("../../core/config.ts"),
      ]);
      const dataDir = loadConfig().storage.dataDir;
      if (flags.table) {
        const done = await restoreTables(dataDir, readFileSync(flags.from), flags.table);
        for (const { table, rows } of done.tables) console.log(`Restored ${table}: ${rows} rows from ${flags.from}.`);
        console.log(`The folder as it was is kept in ${done.keptAs}. Start Sluice again.`);
        return;
      }
      const restored = await restoreDataFolder(dataDir, readFileSync(flags.from));
      if (restored.movedAside) console.log(`Moved the current database to ${restored.movedAside}.`);
      console.log(`Restored ${flags.from} into ${restored.target} (${restored.migrations} migrations recorded). Start Sluice again.`);
    });
}
