import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { SluiceError } from "../core/errors.ts";
import type { RequestKind } from "../pipeline/intake/index.ts";
import { hasScope, mayActOn, requireScope, type Principal, type Scope } from "../pipeline/intake/scopes.ts";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export type Authenticate = (secret: string, client?: string) => Promise<Principal>;

/** A failed authentication, logged for the operator's grep: the address and route, never the key. */
export function logAuthFailure(request: FastifyRequest, err: unknown): void {
  if (!(err instanceof SluiceError) || !["UNAUTHENTICATED", "RATE_LIMITED", "FORBIDDEN_SCOPE"].includes(err.code)) return;
  // `status` and `code` make the runbooks' `grep -i "unauthorized\|forbidden\|401\|403"` find these lines.
  const fields = {
    component: "auth",
    client: request.ip,
    method: request.method,
    route: request.routeOptions.url,
    status: err.status,
    code: err.code,
  };
  request.log.warn(
    fields,
    err.code === "FORBIDDEN_SCOPE" ? "authorization refused: forbidden scope" : "authentication failed (unauthorized)",
  );
}

/** The key from `Authorization: Bearer <key>` or `X-API-Key: <key>` (what curl users reach for). */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === "string") {
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (match?.[1]) return match[1];
  }
  const apiKey = request.headers["x-api-key"];
  return typeof apiKey === "string" && apiKey.length > 0 ? apiKey : undefined;
}

/**
 * An onRequest hook that demands a valid key with `scope`: 401 without one, 403 with the wrong one.
 * It runs before the body is read or validated, so an unauthenticated caller can neither make the
 * server parse a large body nor learn the route's schema from its validation errors.
 */
export function requireScopes(authenticate: Authenticate, scope: Scope): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const secret = presentedKey(request);
    if (!secret) throw new SluiceError("UNAUTHENTICATED", "An API key is required: send Authorization: Bearer <key>");
    let principal: Principal;
    try {
      principal = await authenticate(secret, request.ip);
    } catch (err) {
      logAuthFailure(request, err);
      throw err;
    }
    try {
      requireScope(principal, scope);
    } catch (err) {
      logAuthFailure(request, err);
      throw err;
    }
    request.principal = principal;
  };
}

/**
 * An onRequest hook, after `requireScopes`, that spends one request of `kind` from the caller's
 * workspace budget: 429 RATE_LIMITED with Retry-After once it is used up.
 */
export function spendBudget(
  consume: (workspace: string, kind: RequestKind) => Promise<unknown>,
  kind: RequestKind,
): onRequestAsyncHookHandler {
  return async (request: FastifyRequest) => {
    await consume(principalOf(request).workspaceId, kind);
  };
}

/** The principal a scoped hook put on the request. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new SluiceError("UNAUTHENTICATED");
  return request.principal;
}

/** The same 404 for "not yours" and "does not exist": a key never learns which workspaces exist. */
function workspaceNotFound(workspaceId: string): SluiceError {
  return new SluiceError("NOT_FOUND", `Workspace '${workspaceId}' does not exist`, { details: { workspace: workspaceId } });
}

/**
 * The workspace an admin read or change applies to: the one asked for if the key may act on it
 * (its own, or any for an operator), the key's own when none is asked for, and for an operator
 * asking for none, undefined (every workspace). Another workspace is NOT_FOUND.
 */
export function workspaceScope(request: FastifyRequest, requested: string | undefined): string | undefined {
  const principal = principalOf(request);
  if (requested === undefined) return hasScope(principal, "operator") ? undefined : principal.workspaceId;
  if (!mayActOn(principal, requested)) throw workspaceNotFound(requested);
  return requested;
}

/** Like `workspaceScope` for a route that names one workspace: NOT_FOUND unless the key may act on it. */
export function ownWorkspace(request: FastifyRequest, workspaceId: string): string {
  if (!mayActOn(principalOf(request), workspaceId)) throw workspaceNotFound(workspaceId);
  return workspaceId;
}
