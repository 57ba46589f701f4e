import type { AuditLog, AuditRow } from "../audit/audit-log.ts";
import type { Queryable } from "../../ports/store.ts";

/**
 * Audit retention: rows of `action_audit` older than a cutoff move to `action_audit_archive`
 * (and/or are handed back to be written to a JSONL file), one bounded batch per statement so a
 * large backlog never holds a long transaction. The move is one statement: a row is never in both
 * tables, nor in neither.
 */
interface ArchiveBatchOptions {
  /** Rows created before this move. */
  cutoff: Date;
  /** Rows per statement. */
  limit: number;
  /** Keep the rows in `action_audit_archive`; false deletes them (the caller has written them elsewhere). */
  toTable: boolean;
}

async function archiveAuditBatch(db: Queryable, options: ArchiveBatchOptions): Promise<AuditRow[]> {
  const { rows } = await db.query<AuditRow>(
    `WITH batch AS (
       SELECT id FROM action_audit WHERE created_at < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
     ), moved AS (
       DELETE FROM action_audit a USING batch WHERE a.id = batch.id
       RETURNING a.id, a.created_at, a.workspace_id, a.actor, a.action, a.target, a.reason, a.details
     ), kept AS (
       INSERT INTO action_audit_archive (id, created_at, workspace_id, actor, action, target, reason, details)
       SELECT id, created_at, workspace_id, actor, action, target, reason, details FROM moved WHERE $3::boolean
       ON CONFLICT (id) DO NOTHING
     )
     SELECT * FROM moved ORDER BY id`,
    [options.cutoff, options.limit, options.toTable],
  );
  return rows;
}

export async function hasAuditBefore(db: Queryable, cutoff: Date): Promise<boolean> {
  const { rows } = await db.query<{ found: boolean }>("SELECT EXISTS (SELECT 1 FROM action_audit WHERE created_at < $1) AS found", [
    cutoff,
  ]);
  return rows[0]?.found === true;
}

export interface ArchiveRequest {
  actor: string;
  reason?: string | undefined;
  olderThanMs: number;
  limit: number;
  toTable: boolean;
}

export interface ArchiveResult {
  archived: number;
  cutoff: string;
  /** More rows older than the cutoff may be left: call again. */
  more: boolean;
  to_table: boolean;
  rows?: AuditRow[];
}

/** One audited batch: the audit row of the archiving itself is new, so it never archives itself. */
export async function archiveAudit(db: Queryable, audit: AuditLog, request: ArchiveRequest, returnRows: boolean): Promise<ArchiveResult> {
  const cutoff = new Date(Date.now() - request.olderThanMs);
  const entry = {
    actor: request.actor,
    action: "audit.archive",
    reason: request.reason ?? null,
    details: { cutoff: cutoff.toISOString(), to_table: request.toTable, limit: request.limit },
  };
  const rows = await audit.audited(
    entry,
    () => archiveAuditBatch(db, { cutoff, limit: request.limit, toTable: request.toTable }),
    (moved) => ({ archived: moved.length }),
  );
  return {
    archived: rows.length,
    cutoff: cutoff.toISOString(),
    more: rows.length === request.limit,
    to_table: request.toTable,
    ...(returnRows ? { rows } : {}),
  };
}
