import { isSluiceError } from "../../core/errors.ts";
import type { Queryable } from "../../ports/store.ts";

/** One audited action: who did what to which target, when, and why. */
export interface AuditEntry {
  actor: string;
  action: string;
  workspaceId?: string | null | undefined;
  target?: string | null;
  reason?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: number;
  created_at: Date;
  workspace_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  reason: string | null;
  details: Record<string, unknown>;
}

interface AuditQuery {
  workspaceId?: string;
  action?: string;
  since?: Date;
  limit?: number;
  /** Rows with id below this (paging backwards in time). */
  beforeId?: number;
}

/** Writes and reads `action_audit`, the table runbook 001 backs up with `pg_dump -t action_audit`. */
export interface AuditLog {
  /** Writes one row; its id. */
  record(entry: AuditEntry): Promise<number>;
  /**
   * Write-ahead audit: the row is written before `act` runs, so an action that cannot be recorded
   * is not done at all; its outcome (`succeeded` with what `describe` says, or `failed` with the
   * error code) completes the same row afterwards.
   */
  audited<T>(entry: AuditEntry, act: () => Promise<T>, describe?: (result: T) => Record<string, unknown>): Promise<T>;
  /** Adds the outcome to a row written before its action; a failure here is swallowed, the intent row stays. */
  complete(id: number, details: Record<string, unknown>): Promise<void>;
  /** Newest first. */
  list(query?: AuditQuery): Promise<AuditRow[]>;
}

export function createAuditLog(db: Queryable): AuditLog {
  return {
    async record(entry: AuditEntry): Promise<number> {
      const { rows } = await db.query<{ id: number }>(
        `INSERT INTO action_audit (actor, action, workspace_id, target, reason, details)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING id`,
        [
          entry.actor,
          entry.action,
          entry.workspaceId ?? null,
          entry.target ?? null,
          entry.reason ?? null,
          JSON.stringify(entry.details ?? {}),
        ],
      );
      return rows[0]?.id ?? 0;
    },

    async audited<T>(entry: AuditEntry, act: () => Promise<T>, describe: (result: T) => Record<string, unknown> = () => ({})): Promise<T> {
      const id = await this.record({ ...entry, details: { ...entry.details, outcome: "started" } });
      const settle = (details: Record<string, unknown>) => this.complete(id, details);
      let result: T;
      try {
        result = await act();
      } catch (err) {
        await settle({ outcome: "failed", error: isSluiceError(err) ? err.code : "INTERNAL" });
        throw err;
      }
      await settle({ ...describe(result), outcome: "succeeded" });
      return result;
    },

    async complete(id: number, details: Record<string, unknown>): Promise<void> {
      await db
        .query("UPDATE action_audit SET details = details || $2::jsonb WHERE id = $1", [id, JSON.stringify(details)])
        .catch(() => undefined);
    },

    async list(query: AuditQuery = {}): Promise<AuditRow[]> {
      const { rows } = await db.query<AuditRow>(
        `SELECT id, created_at, workspace_id, actor, action, target, reason, details FROM action_audit
         WHERE ($1::text IS NULL OR workspace_id = $1)
           AND ($2::text IS NULL OR action = $2)
           AND ($3::timestamptz IS NULL OR created_at >= $3)
           AND ($4::bigint IS NULL OR id < $4)
         ORDER BY id DESC LIMIT $5`,
        [query.workspaceId ?? null, query.action ?? null, query.since ?? null, query.beforeId ?? null, Math.min(query.limit ?? 100, 1000)],
      );
      return rows;
    },
  };
}
