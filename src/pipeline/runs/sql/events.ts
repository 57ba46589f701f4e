import type { Queryable } from "../../../ports/store.ts";

/** `pipeline_events`: every event sent, with how many waiting steps it settled. */
export async function recordEvent(db: Queryable, workspace: string, name: string, payload: unknown): Promise<number> {
  const { rows } = await db.query<{ id: number }>("INSERT INTO pipeline_events (workspace, name, payload) VALUES ($1, $2, $3::jsonb) RETURNING id", [
    workspace,
    name,
    JSON.stringify(payload ?? null),
  ]);
  return rows[0]?.id ?? 0;
}

export async function setEventMatched(db: Queryable, id: number, matched: number): Promise<void> {
  await db.query("UPDATE pipeline_events SET matched = $2 WHERE id = $1", [id, matched]);
}
