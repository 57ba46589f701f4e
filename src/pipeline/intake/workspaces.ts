import { SluiceError } from "../../core/errors.ts";
import type { Queryable } from "../../ports/store.ts";
import { validateWorkspaceId } from "../../core/workspace-id.ts";

/** A tenant: jobs, keys and limits belong to exactly one. */
export interface Workspace {
  id: string;
  name: string;
  /** Requests per minute for this workspace; null uses RATE_LIMIT_PER_MINUTE. */
  rateLimitPerMinute: number | null;
  createdAt: Date;
}

interface WorkspaceRow {
  id: string;
  name: string;
  rate_limit_per_minute: number | null;
  created_at: Date;
}

export interface WorkspaceOptions {
  /** Overrides RATE_LIMIT_PER_MINUTE for this workspace; null goes back to the default. */
  rateLimitPerMinute?: number | null | undefined;
}

export interface ListWorkspacesOptions {
  /** At most this many, ordered by id. @default 100 (max 1000) */
  limit?: number;
  /** Only ids after this one (paging). */
  after?: string;
}

const MAX_RATE_LIMIT = 1_000_000;
const COLUMNS = "id, name, rate_limit_per_minute, created_at";

function validateName(name: unknown): string {
  if (typeof name === "string" && name.trim().length > 0 && name.length <= 200) return name.trim();
  throw new SluiceError("VALIDATION_FAILED", "A workspace name is 1-200 characters", { details: { field: "name" } });
}

function validateRateLimit(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_RATE_LIMIT) return value;
  throw new SluiceError(
    "VALIDATION_FAILED",
    `rate_limit_per_minute must be a whole number from 1 to ${MAX_RATE_LIMIT}, or null for the default`,
    {
      details: { field: "rate_limit_per_minute" },
    },
  );
}

function toWorkspace(row: WorkspaceRow): Workspace {
  return { id: row.id, name: row.name, rateLimitPerMinute: row.rate_limit_per_minute, createdAt: row.created_at };
}

/** Creates a workspace; CONFLICT when the id is taken. */
export async function createWorkspace(db: Queryable, id: string, name: string, options: WorkspaceOptions = {}): Promise<Workspace> {
  const values = [validateWorkspaceId(id), validateName(name), validateRateLimit(options.rateLimitPerMinute ?? null)];
  const { rows } = await db.query<WorkspaceRow>(
    `INSERT INTO workspaces (id, name, rate_limit_per_minute) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
    values,
  );
  const row = rows[0];
  if (!row) throw new SluiceError("CONFLICT", `Workspace ${id} already exists`, { details: { workspace: id } });
  return toWorkspace(row);
}

/** Creates the workspace unless it exists; returns it either way (for `sluice dev`). */
export async function ensureWorkspace(db: Queryable, id: string, name: string, options: WorkspaceOptions = {}): Promise<Workspace> {
  const values = [validateWorkspaceId(id), validateName(name), validateRateLimit(options.rateLimitPerMinute ?? null)];
  await db.query("INSERT INTO workspaces (id, name, rate_limit_per_minute) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING", values);
  const workspace = await getWorkspace(db, id);
  if (!workspace) throw new SluiceError("CONFLICT", `Workspace ${id} was deleted while being ensured`, { retryable: true });
  return workspace;
}

/** The workspace, or null when there is none with this id. */
export async function getWorkspace(db: Queryable, id: string): Promise<Workspace | null> {
  const { rows } = await db.query<WorkspaceRow>(`SELECT ${COLUMNS} FROM workspaces WHERE id = $1`, [id]);
  return rows[0] ? toWorkspace(rows[0]) : null;
}

export async function listWorkspaces(db: Queryable, options: ListWorkspacesOptions = {}): Promise<Workspace[]> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 1_000);
  const { rows } = await db.query<WorkspaceRow>(
    `SELECT ${COLUMNS} FROM workspaces WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`,
    [options.after ?? "", limit],
  );
  return rows.map(toWorkspace);
}

export interface WorkspaceUpdate extends WorkspaceOptions {
  name?: string;
}

/** Renames a workspace or changes its rate limit; NOT_FOUND when it does not exist. */
export async function updateWorkspace(db: Queryable, id: string, update: WorkspaceUpdate): Promise<Workspace> {
  const name = update.name === undefined ? null : validateName(update.name);
  const setLimit = update.rateLimitPerMinute !== undefined;
  const limit = setLimit ? validateRateLimit(update.rateLimitPerMinute) : null;
  const { rows } = await db.query<WorkspaceRow>(
    `UPDATE workspaces SET name = coalesce($2, name),
       rate_limit_per_minute = CASE WHEN $3::boolean THEN $4::integer ELSE rate_limit_per_minute END
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, name, setLimit, limit],
  );
  if (!rows[0]) throw new SluiceError("NOT_FOUND", `Workspace ${id} does not exist`, { details: { workspace: id } });
  return toWorkspace(rows[0]);
}
