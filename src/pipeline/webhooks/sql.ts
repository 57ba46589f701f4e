import type { Queryable } from "../../ports/store.ts";

/** The statements over `workspace_webhooks` and `webhook_deliveries` (migrations/0010). */

export type DeliveryStatus = "pending" | "delivered" | "failed";
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "delivered", "failed"];

export interface DeliveryRow {
  id: string;
  workspace: string;
  event: string;
  subject: string;
  target: string;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  created_at: Date;
  delivered_at: Date | null;
}

export interface WorkspaceWebhookRow {
  workspace: string;
  url: string | null;
  secret: string | null;
  previous_secret: string | null;
  previous_expires_at: Date | null;
}

const DELIVERY_COLUMNS =
  "id, workspace, event, subject, target, body, status, attempts, last_status_code, last_error, next_attempt_at, created_at, delivered_at";

export async function readWorkspaceWebhook(db: Queryable, workspace: string): Promise<WorkspaceWebhookRow | undefined> {
  const { rows } = await db.query<WorkspaceWebhookRow>(
    "SELECT workspace, url, secret, previous_secret, previous_expires_at FROM workspace_webhooks WHERE workspace = $1",
    [workspace],
  );
  return rows[0];
}

export async function upsertWorkspaceUrl(db: Queryable, workspace: string, url: string | null): Promise<void> {
  await db.query(
    `INSERT INTO workspace_webhooks (workspace, url) VALUES ($1, $2)
     ON CONFLICT (workspace) DO UPDATE SET url = EXCLUDED.url, updated_at = now()`,
    [workspace, url],
  );
}

/**
 * The new secret signs from now on; the one it replaces (the workspace's, or on a first rotation
 * the server's `fallback`) still signs for `graceSeconds`.
 */
export async function rotateWorkspaceSecret(
  db: Queryable,
  workspace: string,
  secret: string,
  graceSeconds: number,
  fallback: string | null,
): Promise<void> {
  const expiry = "make_interval(secs => $3::double precision)";
  await db.query(
    `INSERT INTO workspace_webhooks (workspace, secret, previous_secret, previous_expires_at)
     VALUES ($1, $2, $4::text, CASE WHEN $4::text IS NULL THEN NULL ELSE now() + ${expiry} END)
     ON CONFLICT (workspace) DO UPDATE SET
       previous_secret = coalesce(workspace_webhooks.secret, $4::text),
       previous_expires_at = CASE WHEN coalesce(workspace_webhooks.secret, $4::text) IS NULL THEN NULL ELSE now() + ${expiry} END,
       secret = EXCLUDED.secret,
       updated_at = now()`,
    [workspace, secret, graceSeconds, fallback],
  );
}

export interface NewDelivery {
  id: string;
  workspace: string;
  event: string;
  subject: string;
  target: string;
  body: string;
}

/**
 * Records a delivery; when this (event, subject, target) was recorded before (the job settled
 * again after a lost lock, or the hook ran twice), returns the earlier row instead.
 */
export async function insertDelivery(db: Queryable, delivery: NewDelivery): Promise<{ row: DeliveryRow; created: boolean }> {
  const inserted = await db.query<DeliveryRow>(
    `INSERT INTO webhook_deliveries (id, workspace, event, subject, target, body, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (event, subject, target) DO NOTHING RETURNING ${DELIVERY_COLUMNS}`,
    [delivery.id, delivery.workspace, delivery.event, delivery.subject, delivery.target, delivery.body],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], created: true };
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE event = $1 AND subject = $2 AND target = $3`,
    [delivery.event, delivery.subject, delivery.target],
  );
  if (!rows[0]) throw new Error(`delivery of ${delivery.event} ${delivery.subject} vanished between insert and read`);
  return { row: rows[0], created: false };
}

export async function findDelivery(db: Queryable, id: string, workspace?: string): Promise<DeliveryRow | undefined> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND ($2::text IS NULL OR workspace = $2)`,
    [id, workspace ?? null],
  );
  return rows[0];
}

export interface AttemptOutcome {
  status: DeliveryStatus;
  statusCode: number | null;
  error: string | null;
  /** When the queue will try again; null when it will not. */
  nextAttemptAt: Date | null;
}

/** Counts one attempt and what came of it. */
export async function recordAttempt(db: Queryable, id: string, outcome: AttemptOutcome): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2, last_status_code = $3, last_error = $4, next_attempt_at = $5,
       delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END
     WHERE id = $1`,
    [id, outcome.status, outcome.statusCode, outcome.error, outcome.nextAttemptAt],
  );
}

/** Back to pending for a redelivery; only from delivered or failed (a pending one is still in the queue). */
export async function reopenDelivery(db: Queryable, id: string, workspace: string | undefined): Promise<DeliveryRow | undefined> {
  const { rows } = await db.query<DeliveryRow>(
    `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
     WHERE id = $1 AND ($2::text IS NULL OR workspace = $2) AND status <> 'pending' RETURNING ${DELIVERY_COLUMNS}`,
    [id, workspace ?? null],
  );
  return rows[0];
}

export interface DeliveryFilter {
  /** Absent: every workspace (operator). */
  workspace?: string | undefined;
  status?: DeliveryStatus | undefined;
  subject?: string | undefined;
  limit: number;
  /** Rows created before this one (paging, newest first). */
  beforeId?: string | undefined;
}

export async function listDeliveries(db: Queryable, filter: DeliveryFilter): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d
     WHERE ($1::text IS NULL OR workspace = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR subject = $3)
       AND ($4::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = $4))
     ORDER BY created_at DESC, id DESC LIMIT $5`,
    [filter.workspace ?? null, filter.status ?? null, filter.subject ?? null, filter.beforeId ?? null, filter.limit],
  );
  return rows;
}
