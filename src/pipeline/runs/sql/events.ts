import type { Queryable } from "../../../ports/store.ts";

/** `pipeline_events`: every event sent, with how many waiting steps it settled. */
export async function recordEvent(db: Queryable, workspace: string, name: string, payload: unknown): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    "INSERT INTO pipeline_events (workspace, name, payload) VALUES ($1, $2, $3::jsonb) RETURNING id",
    [workspace, name, JSON.stringify(payload ?? null)],
  );
  return rows[0]?.id ?? 0;
}

export async function setEventMatched(db: Queryable, id: number, matched: number): Promise<void> {
  await db.query("UPDATE pipeline_events SET matched = $2 WHERE id = $1", [id, matched]);
}

export interface BufferedEvent {
  name: string;
  payload: unknown;
}

/** Events of this name in the workspace recorded at or after `since` and within the retention, oldest first. */
export async function eventsSince(
  db: Queryable,
  workspace: string,
  name: string,
  since: Date,
  retentionMs: number,
): Promise<BufferedEvent[]> {
  const { rows } = await db.query<BufferedEvent>(
    `SELECT name, payload FROM pipeline_events
     WHERE workspace = $1 AND name = $2 AND created_at >= $3 AND created_at >= now() - make_interval(secs => $4::double precision / 1000)
     ORDER BY created_at, id LIMIT 1000`,
    [workspace, name, since, retentionMs],
  );
  return rows;
}

/** Drops a workspace's events older than the retention (a bounded batch per call, so a send stays cheap). */
export async function purgeEvents(db: Queryable, workspace: string, retentionMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM pipeline_events WHERE id IN (
       SELECT id FROM pipeline_events WHERE workspace = $1 AND created_at < now() - make_interval(secs => $2::double precision / 1000) LIMIT 1000)`,
    [workspace, retentionMs],
  );
  return rowCount;
}
