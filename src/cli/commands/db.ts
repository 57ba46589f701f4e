import type { Command } from "commander";
import type { DbReport } from "../../pipeline/ops/db-report.ts";
import { table } from "../output.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

function printReport(report: DbReport): void {
  const { slow_queries: slow } = report;
  console.log(`Database: ${report.engine}\n\nSlow statements (pg_stat_statements)`);
  console.log(slow.available ? table(slow.rows, ["mean_ms", "calls", "total_ms", "query"]) : `  ${slow.note ?? "not available"}`);
  console.log("\nIndex usage (pg_stat_user_indexes, least used first)");
  console.log(table(report.index_usage, ["schemaname", "relname", "indexrelname", "idx_scan", "size"]));
  console.log("\nTables read by sequential scans only (candidates for an index)");
  console.log(table(report.tables_scanned_without_index, ["schemaname", "relname", "seq_scan", "idx_scan"]));
  console.log("\nTable sizes (with indexes and TOAST)");
  console.log(table(report.table_sizes, ["schemaname", "relname", "size"]));
}

/** `sluice db report`: seed 004 §4.1 "Query Performance" and §5.3 "Slow database queries" on any engine. */
export function registerDbCommands(program: Command): void {
  const db = program.command("db").description("database reports");
  withClientOptions(db.command("report"))
    .description("slow statements (pg_stat_statements where installed), index usage, tables scanned without an index, table sizes")
    .option("--slower-than <ms>", "list statements whose mean time is above this", "100")
    .option("--limit <n>", "rows per section", "20")
    .option("--json", "print JSON")
    .action(async (opts: ClientFlags & { slowerThan: string; limit: string; json?: boolean }) => {
      const query = new URLSearchParams({ slower_than_ms: opts.slowerThan, limit: opts.limit });
      const report = await clientFor(opts).call<DbReport>("GET", `/api/admin/db/report?${query.toString()}`);
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else printReport(report);
    });
}
