import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { SluiceError } from "../core/errors.ts";
import { requireScope, type Principal, type Scope } from "../pipeline/intake/scopes.ts";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export type Authenticate = (secret: string) => Promise<Principal>;

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

/** A preHandler that demands a valid key with `scope`: 401 without one, 403 with the wrong one. */
export function requireScopes(authenticate: Authenticate, scope: Scope): preHandlerAsyncHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const secret = presentedKey(request);
    if (!secret) throw new SluiceError("UNAUTHENTICATED", "An API key is required: send Authorization: Bearer <key>");
    const principal = await authenticate(secret);
    requireScope(principal, scope);
    request.principal = principal;
  };
}

/** The principal a scoped preHandler put on the request. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new SluiceError("UNAUTHENTICATED");
  return request.principal;
}
