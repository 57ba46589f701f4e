import { appendFileSync } from "node:fs";
import type { Command } from "commander";
import type { ArchiveResult } from "../../pipeline/ops/audit-archive.ts";
import { clientFor, withClientOptions, type ClientFlags } from "./shared.ts";

interface ArchiveFlags extends ClientFlags {
  olderThan: string;
  file?: string;
  table: boolean;
  batch: string;
  reason?: string;
}

/** `sluice audit archive`: seed 001 "Archive old audit logs (> 90 days)", batch by batch through the admin API. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command("audit").description("the audit trail (action_audit)");
  withClientOptions(audit.command("archive"))
    .description("move audit rows older than --older-than to action_audit_archive and/or a JSONL file (audited)")
    .option("--older-than <duration>", "age of the rows to move: 90d, 12h, or seconds", "90d")
    .option("--file <path>", "also append the moved rows to this JSONL file (one row per line)")
    .option("--no-table", "do not keep them in action_audit_archive (needs --file)")
    .option("--batch <n>", "rows per request", "1000")
    .option("--reason <text>", "why (kept in the audit log)")
    .action(async (opts: ArchiveFlags) => {
      if (!opts.table && !opts.file) throw new Error("--no-table deletes the rows: give --file to keep them");
      const client = clientFor(opts);
      const body = {
        older_than: opts.olderThan,
        limit: Number(opts.batch),
        table: opts.table,
        return_rows: Boolean(opts.file),
        ...(opts.reason ? { reason: opts.reason } : {}),
      };
      let total = 0;
      let cutoff = "";
      for (;;) {
        const result = await client.call<ArchiveResult>("POST", "/api/admin/audit/archive", body);
        // Written before the next request: a batch the server has moved is on disk before another is asked for.
        if (opts.file && result.rows && result.rows.length > 0)
          appendFileSync(opts.file, result.rows.map((row) => `${JSON.stringify(row)}\n`).join(""));
        total += result.archived;
        cutoff = result.cutoff;
        if (!result.more) break;
      }
      const where = [opts.table ? "action_audit_archive" : "", opts.file ?? ""].filter(Boolean).join(" and ");
      console.log(`Archived ${total} audit row(s) created before ${cutoff} to ${where}.`);
    });
}
