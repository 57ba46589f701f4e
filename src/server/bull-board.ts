import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { RateLimitedError, SluiceError } from "../core/errors.ts";
import type { Principal } from "../pipeline/intake/scopes.ts";
import type { Sluice } from "../sluice.ts";
import { logAuthFailure, presentedKey } from "./auth.ts";

const BULL_BOARD_PATH = "/admin/queues";

/** Browsers can't send a Bearer header to a dashboard: HTTP Basic with the operator key as password works too. */
function basicPassword(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === "string" ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString();
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

declare module "fastify" {
  interface FastifyRequest {
    boardAuditId?: number;
  }
}

/**
 * Every Bull Board button (pause, retry all, clean, empty, remove, promote, add…) is a non-GET
 * request under /admin/queues/api: each is written to action_audit before Bull Board acts, with
 * the key behind the Basic-auth password as the actor, so the dashboard is no way around the audit.
 */
async function auditBoardAction(
  sluice: Pick<Sluice, "audit" | "intake" | "queues">,
  request: FastifyRequest,
  principal: Principal,
): Promise<void> {
  const path = (request.url.split("?")[0] ?? "").slice(BULL_BOARD_PATH.length);
  const header = request.headers["x-sluice-reason"];
  const queue = /^\/api\/queues\/([^/]+)/.exec(path)?.[1];
  request.boardAuditId = await sluice.audit.record({
    actor: `key:${principal.keyId}`,
    action: `bullboard.${request.method.toLowerCase()}`,
    workspaceId: principal.workspaceId,
    target: path,
    reason: typeof header === "string" ? header : "via Bull Board",
    details: { method: request.method, path, ...(queue && queue !== "pause" && queue !== "resume" ? { queue } : {}), outcome: "started" },
  });
}

/** Bull Board at /admin/queues, on every backend, behind the operator scope. */
export async function mountBullBoard(app: FastifyInstance, sluice: Pick<Sluice, "audit" | "intake" | "queues">): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: sluice.queues.bullQueues().map((q) => new BullMQAdapter(q as never)),
    serverAdapter,
    options: { uiConfig: { boardTitle: "Sluice queues" } },
  });
  await app.register(async (scope) => {
    // Bull Board's plugin installs its own error handler, so answer here rather than throw.
    scope.addHook("onRequest", async (request, reply) => {
      try {
        const secret = basicPassword(request) ?? presentedKey(request);
        if (!secret)
          throw new SluiceError("UNAUTHENTICATED", "Bull Board needs an operator key (Basic auth password, or Authorization: Bearer)");
        const principal = await sluice.intake.authenticate(secret, request.ip);
        sluice.intake.requireScope(principal, "operator");
        if (request.method !== "GET" && request.method !== "HEAD") await auditBoardAction(sluice, request, principal);
      } catch (err) {
        logAuthFailure(request, err);
        const error = err instanceof SluiceError ? err : new SluiceError("INTERNAL", undefined, { cause: err });
        if (error.status === 401) void reply.header("www-authenticate", 'Basic realm="Sluice admin", charset="UTF-8"');
        if (error instanceof RateLimitedError) void reply.header("retry-after", String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
        return reply.status(error.status).send(error.toJSON());
      }
    });
    scope.addHook("onResponse", async (request, reply) => {
      if (request.boardAuditId !== undefined)
        await sluice.audit.complete(request.boardAuditId, {
          outcome: reply.statusCode < 400 ? "succeeded" : "failed",
          status: reply.statusCode,
        });
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}
