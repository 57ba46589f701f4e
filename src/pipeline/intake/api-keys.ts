import { createHash, randomInt } from "node:crypto";
import { LRUCache } from "lru-cache";
import { SluiceError } from "../../core/errors.ts";
import type { Queryable, Store } from "../../ports/store.ts";
import { parseScopes, type Principal, type Scope } from "./scopes.ts";
import { getWorkspace } from "./workspaces.ts";

/** An API key as listed: never its secret, only the prefix that identifies it to a person. */
export interface ApiKey {
  id: string;
  workspaceId: string;
  name: string | null;
  /** The first characters of the secret, e.g. `sk_sluice_Ab12Cd`, to recognise a key. */
  prefix: string;
  scopes: Scope[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What `createApiKey` returns: the only time the secret is ever available. */
export interface CreatedApiKey extends ApiKey {
  secret: string;
}

export interface CreateApiKeyInput {
  workspaceId: string;
  /** A list or a comma-separated string of scopes (`jobs:read`, `jobs:write`, `admin`). */
  scopes: readonly string[] | string;
  name?: string;
}

export interface ListApiKeysOptions {
  /** Include revoked keys. @default false */
  includeRevoked?: boolean;
}

export interface ApiKeysOptions {
  store: Store;
  /**
   * How long `authenticate` trusts its in-process cache of key -> principal. A key revoked by
   * another process keeps working here for at most this long (revoking in this process is immediate).
   * @default 5000
   */
  cacheTtlMs?: number | undefined;
  /** Most keys (valid or not) remembered by the cache. @default 10000 */
  cacheMax?: number;
}

export interface ApiKeys {
  create(input: CreateApiKeyInput): Promise<CreatedApiKey>;
  /** The caller behind a secret, or UNAUTHENTICATED (401) for a missing, unknown or revoked key. */
  authenticate(secret: string | undefined | null): Promise<Principal>;
  /** Revokes a key (idempotently) and returns it; NOT_FOUND when it does not exist (in that workspace). */
  revoke(keyId: string, options?: { workspaceId?: string }): Promise<ApiKey>;
  /** Keys of one workspace, or of all when `workspaceId` is undefined; oldest first. */
  list(workspaceId?: string, options?: ListApiKeysOptions): Promise<ApiKey[]>;
}

const API_KEY_PREFIX = "sk_sluice_";
const SECRET_LENGTH = 40; // base62: about 238 bits
const SHOWN_PREFIX_LENGTH = API_KEY_PREFIX.length + 6;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_COLUMNS = "id, workspace_id, name, prefix, scopes, created_at, last_used_at, revoked_at";

interface ApiKeyRow {
  id: string;
  workspace_id: string;
  name: string | null;
  prefix: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function randomBase62(length: number): string {
  let out = "";
  for (let i = 0; i < length; i += 1) out += BASE62[randomInt(62)];
  return out;
}

function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes as Scope[],
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

function validateKeyName(name: unknown): string | null {
  if (name === undefined || name === null) return null;
  if (typeof name === "string" && name.length <= 200) return name;
  throw new SluiceError("VALIDATION_FAILED", "An API key name is at most 200 characters", { details: { field: "name" } });
}

async function insertKey(db: Queryable, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const scopes = parseScopes(input.scopes);
  const name = validateKeyName(input.name);
  if (!(await getWorkspace(db, input.workspaceId))) {
    throw new SluiceError("NOT_FOUND", `Workspace ${input.workspaceId} does not exist`, { details: { workspace: input.workspaceId } });
  }
  const secret = API_KEY_PREFIX + randomBase62(SECRET_LENGTH);
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, workspace_id, key_hash, prefix, scopes, name) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${KEY_COLUMNS}`,
    [`key_${randomBase62(16)}`, input.workspaceId, hashSecret(secret), secret.slice(0, SHOWN_PREFIX_LENGTH), scopes, name],
  );
  return { ...toApiKey(rows[0] as ApiKeyRow), secret };
}

// A wrong key costs one read and no write; a valid one is marked used once per cache miss.
async function lookupPrincipal(db: Queryable, keyHash: string): Promise<Principal | null> {
  const { rows } = await db.query<{ id: string; workspace_id: string; scopes: string[] }>(
    "SELECT id, workspace_id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    [keyHash],
  );
  const row = rows[0];
  if (!row) return null;
  await db.query("UPDATE api_keys SET last_used_at = now() WHERE id = $1", [row.id]);
  return { keyId: row.id, workspaceId: row.workspace_id, scopes: Object.freeze(row.scopes as Scope[]) };
}

const unauthenticated = (): SluiceError => new SluiceError("UNAUTHENTICATED", "A valid API key is required (missing, unknown or revoked)");

/** API keys: created with a secret shown once, stored as a sha256 hash, checked through a short cache. */
export function createApiKeys(options: ApiKeysOptions): ApiKeys {
  const { store } = options;
  // Unknown keys are cached too (null): guessing cannot create a key, so a miss stays a miss.
  const cache = new LRUCache<string, { principal: Principal | null }>({
    max: options.cacheMax ?? 10_000,
    ttl: options.cacheTtlMs ?? 5_000,
  });
  // A burst on a cold cache makes one query per key, not one per request.
  const inFlight = new Map<string, Promise<Principal | null>>();
  // Bumped by every revoke: a lookup that began before it must not cache what it read.
  let generation = 0;

  function lookupOnce(keyHash: string): Promise<Principal | null> {
    let pending = inFlight.get(keyHash);
    if (!pending) {
      const started = generation;
      pending = lookupPrincipal(store, keyHash)
        .then((principal) => {
          if (generation === started) cache.set(keyHash, { principal });
          return principal;
        })
        .finally(() => {
          if (inFlight.get(keyHash) === pending) inFlight.delete(keyHash);
        });
      inFlight.set(keyHash, pending);
    }
    return pending;
  }

  return {
    create: (input) => insertKey(store, input),
    async authenticate(secret) {
      if (typeof secret !== "string" || !secret.startsWith(API_KEY_PREFIX) || secret.length > 200) throw unauthenticated();
      const keyHash = hashSecret(secret);
      const cached = cache.get(keyHash);
      const principal = cached ? cached.principal : await lookupOnce(keyHash);
      if (!principal) throw unauthenticated();
      return principal;
    },
    async revoke(keyId, revokeOptions = {}) {
      const { rows } = await store.query<ApiKeyRow & { key_hash: string }>(
        `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
         WHERE id = $1 AND ($2::text IS NULL OR workspace_id = $2) RETURNING ${KEY_COLUMNS}, key_hash`,
        [keyId, revokeOptions.workspaceId ?? null],
      );
      const row = rows[0];
      if (!row) throw new SluiceError("NOT_FOUND", `API key ${keyId} does not exist`, { details: { keyId } });
      generation += 1;
      cache.delete(row.key_hash);
      inFlight.delete(row.key_hash);
      return toApiKey(row);
    },
    async list(workspaceId, listOptions = {}) {
      const { rows } = await store.query<ApiKeyRow>(
        `SELECT ${KEY_COLUMNS} FROM api_keys
         WHERE ($1::text IS NULL OR workspace_id = $1) AND ($2::boolean OR revoked_at IS NULL)
         ORDER BY created_at, id`,
        [workspaceId ?? null, listOptions.includeRevoked ?? false],
      );
      return rows.map(toApiKey);
    },
  };
}
