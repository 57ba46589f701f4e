import type { Queryable } from "../../../ports/store.ts";

/** `entity_states` (an entity's current state per pipeline) and `entity_transitions` (its history). */

export interface EntityKey {
  workspace: string;
  pipeline: string;
  entityKey: string;
}

export interface EntityStateRow {
  pipeline: string;
  workspace: string;
  entity_key: string;
  state: string;
  updated_at: Date;
}

export interface TransitionRow {
  id: number;
  from_state: string | null;
  to_state: string;
  reason: string | null;
  actor: string;
  bypass_rules: boolean;
  created_at: Date;
}

export async function readEntityState(db: Queryable, key: EntityKey, forUpdate = false): Promise<EntityStateRow | undefined> {
  const { rows } = await db.query<EntityStateRow>(
    `SELECT pipeline, workspace, entity_key, state, updated_at FROM entity_states WHERE workspace = $1 AND pipeline = $2 AND entity_key = $3${forUpdate ? " FOR UPDATE" : ""}`,
    [key.workspace, key.pipeline, key.entityKey],
  );
  return rows[0];
}

export interface TransitionWrite extends EntityKey {
  from: string | null;
  to: string;
  reason: string | null;
  actor: string;
  bypassRules: boolean;
}

/** Sets the state and records the transition (call inside a transaction with the read). */
export async function writeTransition(db: Queryable, t: TransitionWrite): Promise<void> {
  await db.query(
    `INSERT INTO entity_states (workspace, pipeline, entity_key, state) VALUES ($1, $2, $3, $4)
     ON CONFLICT (workspace, pipeline, entity_key) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`,
    [t.workspace, t.pipeline, t.entityKey, t.to],
  );
  await db.query(
    `INSERT INTO entity_transitions (workspace, pipeline, entity_key, from_state, to_state, reason, actor, bypass_rules) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [t.workspace, t.pipeline, t.entityKey, t.from, t.to, t.reason, t.actor, t.bypassRules],
  );
}

export async function listTransitions(db: Queryable, key: EntityKey, limit = 100): Promise<TransitionRow[]> {
  const { rows } = await db.query<TransitionRow>(
    `SELECT id, from_state, to_state, reason, actor, bypass_rules, created_at FROM entity_transitions
     WHERE workspace = $1 AND pipeline = $2 AND entity_key = $3 ORDER BY id DESC LIMIT $4`,
    [key.workspace, key.pipeline, key.entityKey, limit],
  );
  return rows;
}
