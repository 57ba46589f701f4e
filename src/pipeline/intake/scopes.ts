import { SluiceError } from "../../core/errors.ts";

/**
 * What an API key may do. `admin` covers everything, its own workspace's jobs included, so an
 * operator's key works with the jobs API too. Scope names are part of the API contract.
 */
export const SCOPES = ["jobs:read", "jobs:write", "admin"] as const;

export type Scope = (typeof SCOPES)[number];

/** Who is calling: the key, its workspace and what it may do. */
export interface Principal {
  readonly keyId: string;
  readonly workspaceId: string;
  readonly scopes: readonly Scope[];
}

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

/**
 * Parses scopes from a list or a comma-separated string (`jobs:write,jobs:read`, as the CLI takes
 * them): deduplicated, in catalogue order. Unknown or no scopes are VALIDATION_FAILED.
 */
export function parseScopes(input: unknown): Scope[] {
  const raw = typeof input === "string" ? input.split(",") : Array.isArray(input) ? input : null;
  if (!raw) throw new SluiceError("VALIDATION_FAILED", "scopes must be a list or a comma-separated string", { details: { allowed: SCOPES } });
  const names = raw.map((s) => (typeof s === "string" ? s.trim() : s)).filter((s) => s !== "");
  const unknown = names.filter((s) => !isScope(s));
  if (unknown.length > 0) {
    throw new SluiceError("VALIDATION_FAILED", `Unknown scope(s): ${unknown.map(String).join(", ")}; allowed: ${SCOPES.join(", ")}`, {
      details: { unknown, allowed: SCOPES },
    });
  }
  if (names.length === 0) throw new SluiceError("VALIDATION_FAILED", `At least one scope is required; allowed: ${SCOPES.join(", ")}`, { details: { allowed: SCOPES } });
  return SCOPES.filter((s) => names.includes(s));
}

/** Whether the principal may act with `scope` (an admin key may do anything in its workspace). */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes("admin");
}

/** Throws FORBIDDEN_SCOPE (403) unless the principal holds `scope` or `admin`. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (hasScope(principal, scope)) return;
  throw new SluiceError("FORBIDDEN_SCOPE", `This API key lacks the scope ${scope}`, { details: { required: scope, granted: principal.scopes } });
}
