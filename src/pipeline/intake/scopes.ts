import { SluiceError } from "../../core/errors.ts";

/**
 * What an API key may do. Scope names are part of the API contract.
 * - `jobs:read`, `jobs:write`: a tenant's jobs and items, in the key's own workspace.
 * - `admin`: a workspace admin. Both jobs scopes, plus the key's own workspace's keys, items,
 *   reindex, audit and usage. Never another workspace, never the fleet.
 * - `operator`: the fleet. Queues, flags, cache, backups, Bull Board, every workspace (creating
 *   them, minting their keys); it covers every other scope in every workspace.
 */
const SCOPES = ["jobs:read", "jobs:write", "admin", "operator"] as const;

export type Scope = (typeof SCOPES)[number];

/** Who is calling: the key, its workspace and what it may do. */
export interface Principal {
  readonly keyId: string;
  readonly workspaceId: string;
  readonly scopes: readonly Scope[];
}

// What each scope brings with it besides itself.
const IMPLIED: Record<Scope, readonly Scope[]> = {
  "jobs:read": [],
  "jobs:write": [],
  admin: ["jobs:read", "jobs:write"],
  operator: ["jobs:read", "jobs:write", "admin"],
};

function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

/**
 * Parses scopes from a list or a comma-separated string (`jobs:write,jobs:read`, as the CLI takes
 * them): deduplicated, in catalogue order. Unknown or no scopes are VALIDATION_FAILED.
 */
export function parseScopes(input: unknown): Scope[] {
  const raw = typeof input === "string" ? input.split(",") : Array.isArray(input) ? (input as unknown[]) : null;
  if (!raw)
    throw new SluiceError("VALIDATION_FAILED", "scopes must be a list or a comma-separated string", { details: { allowed: SCOPES } });
  const names = raw.map((s) => (typeof s === "string" ? s.trim() : s)).filter((s) => s !== "");
  const unknown = names.filter((s) => !isScope(s));
  if (unknown.length > 0) {
    throw new SluiceError("VALIDATION_FAILED", `Unknown scope(s): ${unknown.map(String).join(", ")}; allowed: ${SCOPES.join(", ")}`, {
      details: { unknown, allowed: SCOPES },
    });
  }
  if (names.length === 0)
    throw new SluiceError("VALIDATION_FAILED", `At least one scope is required; allowed: ${SCOPES.join(", ")}`, {
      details: { allowed: SCOPES },
    });
  return SCOPES.filter((s) => names.includes(s));
}

/** Whether the principal may act with `scope`, held directly or through a broader one. */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.some((held) => held === scope || (IMPLIED[held] as readonly string[] | undefined)?.includes(scope) === true);
}

/** Throws FORBIDDEN_SCOPE (403) unless the principal holds `scope` or one that covers it. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (hasScope(principal, scope)) return;
  throw new SluiceError("FORBIDDEN_SCOPE", `This API key lacks the scope ${scope}`, {
    details: { required: scope, granted: principal.scopes },
  });
}

/** Whether the principal may act on `workspaceId`: its own, or any with `operator`. */
export function mayActOn(principal: Principal, workspaceId: string): boolean {
  return principal.workspaceId === workspaceId || hasScope(principal, "operator");
}

/**
 * The scopes a principal may give a new key: an operator any, a workspace admin only those it
 * holds itself (never `operator`), so no key can mint one stronger than itself.
 */
export function assertMayGrant(principal: Principal, scopes: readonly Scope[]): void {
  const beyond = scopes.filter((s) => !hasScope(principal, s));
  if (beyond.length === 0) return;
  throw new SluiceError("FORBIDDEN_SCOPE", `This API key cannot grant ${beyond.join(", ")}`, {
    details: { required: "operator", granted: principal.scopes },
  });
}
