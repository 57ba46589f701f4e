import type { Queryable } from "../../ports/store.ts";

/** The statements over `runtime_flags` (migrations/0001_core.sql), one small function each. */

export interface RuntimeFlagRow {
  name: string;
  value: unknown;
  updated_at: Date;
  updated_by: string;
}

export async function selectAllFlags(db: Queryable): Promise<RuntimeFlagRow[]> {
  const { rows } = await db.query<RuntimeFlagRow>("SELECT name, value, updated_at, updated_by FROM runtime_flags ORDER BY name");
  return rows;
}

export async function upsertFlag(db: Queryable, name: string, value: unknown, actor: string): Promise<RuntimeFlagRow> {
  const { rows } = await db.query<RuntimeFlagRow>(
    `INSERT INTO runtime_flags (name, value, updated_at, updated_by) VALUES ($1, $2::jsonb, now(), $3)
     ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now(), updated_by = EXCLUDED.updated_by
     RETURNING name, value, updated_at, updated_by`,
    [name, JSON.stringify(value), actor],
  );
  const row = rows[0];
  if (!row) throw new Error(`upsert of runtime flag ${name} returned no row`);
  return row;
}

export async function deleteFlag(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ name: string }>("DELETE FROM runtime_flags WHERE name = $1 RETURNING name", [name]);
  return rows.length > 0;
}
