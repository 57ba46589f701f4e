import { createHash } from "node:crypto";
import { SluiceError } from "../../../core/errors.ts";
import type { Queryable } from "../../../ports/store.ts";
import { validateWorkspaceId } from "../../../core/workspace-id.ts";
import type { ItemInput, ItemStatus } from "./types.ts";

export interface IngestOptions {
  /** Most items one call accepts (one statement, one transaction). @default 10000 */
  maxItems?: number;
}

export interface IngestResult {
  received: number;
  /** New items, queued as `pending`. */
  inserted: number;
  /** Items whose text changed (re-queued as `pending`, old vector dropped) or only their metadata. */
  updated: number;
  /** Items identical to what is stored: nothing written, not re-embedded. */
  unchanged: number;
}

export const DEFAULT_MAX_INGEST_ITEMS = 10_000;
export const MAX_EXTERNAL_ID_LENGTH = 512;
export const MAX_TEXT_LENGTH = 100_000;
const MAX_METADATA_BYTES = 65_536;

/** sha256 of the text: the only input of the embedding, so equal hashes need no new vector. */
function contentHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function invalid(message: string, details: Record<string, unknown>): SluiceError {
  return new SluiceError("VALIDATION_FAILED", message, { details });
}

// PostgreSQL text and jsonb cannot hold NUL; reject it here rather than fail the whole statement.
const hasNul = (s: string): boolean => s.includes("\u0000");

function validateItem(item: unknown, index: number): { externalId: string; text: string; metadata: string } {
  const candidate = (item ?? {}) as Partial<ItemInput>;
  const { externalId, text, metadata = {} } = candidate;
  if (typeof externalId !== "string" || externalId.length === 0 || externalId.length > MAX_EXTERNAL_ID_LENGTH || hasNul(externalId)) {
    throw invalid(`items[${index}].externalId must be 1-${MAX_EXTERNAL_ID_LENGTH} characters without NUL`, {
      field: `items[${index}].externalId`,
    });
  }
  if (typeof text !== "string" || text.trim().length === 0 || text.length > MAX_TEXT_LENGTH || hasNul(text)) {
    throw invalid(`items[${index}].text must be 1-${MAX_TEXT_LENGTH} characters without NUL`, {
      field: `items[${index}].text`,
      externalId,
    });
  }
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw invalid(`items[${index}].metadata must be a JSON object`, { field: `items[${index}].metadata`, externalId });
  }
  const json = JSON.stringify(metadata);
  if (json.length > MAX_METADATA_BYTES || json.includes("\\u0000")) {
    throw invalid(`items[${index}].metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON without NUL`, {
      field: `items[${index}].metadata`,
      externalId,
    });
  }
  return { externalId, text, metadata: json };
}

interface Columns {
  externalIds: string[];
  texts: string[];
  metadata: string[];
  hashes: string[];
}

function toColumns(items: readonly ItemInput[]): Columns {
  const columns: Columns = { externalIds: [], texts: [], metadata: [], hashes: [] };
  const seen = new Set<string>();
  items.forEach((raw, index) => {
    const item = validateItem(raw, index);
    if (seen.has(item.externalId))
      throw invalid(`items[${index}].externalId '${item.externalId}' appears twice in one call`, { field: `items[${index}].externalId` });
    seen.add(item.externalId);
    columns.externalIds.push(item.externalId);
    columns.texts.push(item.text);
    columns.metadata.push(item.metadata);
    columns.hashes.push(contentHash(item.text));
  });
  return columns;
}

// On a changed hash every embedding column resets; on a metadata-only change they stay as they are.
const RESET_ON_NEW_TEXT: Record<string, string> = {
  status: "'pending'",
  retry_count: "0",
  error_message: "NULL",
  model: "NULL",
  dimensions: "NULL",
  embedding: "NULL",
  claimed_by: "NULL",
  claimed_at: "NULL",
  batch_id: "NULL",
  embedded_at: "NULL",
};

const TEXT_CHANGED = "s.content_hash <> EXCLUDED.content_hash";

const UPSERT_SQL = `
WITH upserted AS (
  INSERT INTO shop_product_embeddings AS s (shop_id, external_id, content, metadata, content_hash)
  SELECT $1, u.external_id, u.content, u.metadata::jsonb, u.content_hash
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(external_id, content, metadata, content_hash)
  ON CONFLICT (shop_id, external_id) DO UPDATE SET
    content = EXCLUDED.content,
    metadata = EXCLUDED.metadata,
    content_hash = EXCLUDED.content_hash,
    ${Object.entries(RESET_ON_NEW_TEXT)
      .map(([column, value]) => `${column} = CASE WHEN ${TEXT_CHANGED} THEN ${value} ELSE s.${column} END`)
      .join(",\n    ")},
    updated_at = now()
  WHERE ${TEXT_CHANGED} OR s.metadata <> EXCLUDED.metadata
  RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM upserted`;

function workspaceMissing(err: unknown, workspaceId: string): SluiceError | undefined {
  if ((err as { code?: unknown } | null)?.code !== "23503") return undefined;
  return new SluiceError("NOT_FOUND", `Workspace '${workspaceId}' does not exist`, { cause: err, details: { workspace: workspaceId } });
}

/**
 * Bulk upsert of one workspace's items in one statement (unnest arrays, ON CONFLICT). New items are
 * queued `pending`; a changed text re-queues the item (retry_count 0, old vector dropped: it
 * described the old text); identical items are not written at all. Vectors are never written here.
 */
export async function upsertItems(
  db: Queryable,
  workspaceId: string,
  items: readonly ItemInput[],
  options: IngestOptions = {},
): Promise<IngestResult> {
  validateWorkspaceId(workspaceId);
  const maxItems = options.maxItems ?? DEFAULT_MAX_INGEST_ITEMS;
  if (!Array.isArray(items)) throw invalid("items must be an array", { field: "items" });
  if (items.length > maxItems) throw invalid(`At most ${maxItems} items per call (got ${items.length})`, { field: "items", max: maxItems });
  if (items.length === 0) return { received: 0, inserted: 0, updated: 0, unchanged: 0 };
  const c = toColumns(items);
  try {
    const { rows } = await db.query<{ inserted: number; updated: number }>(UPSERT_SQL, [
      workspaceId,
      c.externalIds,
      c.texts,
      c.metadata,
      c.hashes,
    ]);
    const inserted = rows[0]?.inserted ?? 0;
    const updated = rows[0]?.updated ?? 0;
    return { received: items.length, inserted, updated, unchanged: items.length - inserted - updated };
  } catch (err) {
    throw workspaceMissing(err, workspaceId) ?? err;
  }
}

/** Removes items (and so their vectors from the index); returns how many existed. */
export async function deleteItems(db: Queryable, workspaceId: string, externalIds: readonly string[]): Promise<number> {
  validateWorkspaceId(workspaceId);
  if (!Array.isArray(externalIds) || externalIds.some((id) => typeof id !== "string"))
    throw invalid("externalIds must be an array of strings", { field: "externalIds" });
  if (externalIds.length === 0) return 0;
  const { rowCount } = await db.query("DELETE FROM shop_product_embeddings WHERE shop_id = $1 AND external_id = ANY($2::text[])", [
    workspaceId,
    externalIds,
  ]);
  return rowCount;
}

/** One item's state as an operator or the API shows it (status, attempts, last error), or null. */
export async function getItem(db: Queryable, workspaceId: string, externalId: string): Promise<ItemState | null> {
  const { rows } = await db.query<ItemState>(
    `SELECT id, shop_id AS "workspaceId", external_id AS "externalId", metadata, content_hash AS "contentHash", status,
            retry_count AS "retryCount", error_message AS "errorMessage", model, dimensions, embedded_at AS "embeddedAt", updated_at AS "updatedAt"
     FROM shop_product_embeddings WHERE shop_id = $1 AND external_id = $2`,
    [validateWorkspaceId(workspaceId), externalId],
  );
  return rows[0] ?? null;
}

export interface ItemState {
  id: number;
  workspaceId: string;
  externalId: string;
  metadata: Record<string, unknown>;
  contentHash: string;
  status: ItemStatus;
  retryCount: number;
  errorMessage: string | null;
  model: string | null;
  dimensions: number | null;
  embeddedAt: Date | null;
  updatedAt: Date;
}
