import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { RateLimitedError, SluiceError } from "../core/errors.ts";
import type { Sluice } from "../sluice.ts";
import { logAuthFailure, presentedKey } from "./auth.ts";

export const BULL_BOARD_PATH = "/admin/queues";

/** Browsers can't send a Bearer header to a dashboard: HTTP Basic with the admin key as password works too. */
function basicPassword(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === "string" ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString();
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** Bull Board at /admin/queues, on every backend, behind the admin scope. */
export async function mountBullBoard(app: FastifyInstance, sluice: Sluice): Promise<void> {
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
        if (!secret) throw new SluiceError("UNAUTHENTICATED", "Bull Board needs an admin key (Basic auth password, or Authorization: Bearer)");
        sluice.intake.requireScope(await sluice.intake.authenticate(secret, request.ip), "admin");
      } catch (err) {
        logAuthFailure(request, err);
        const error = err instanceof SluiceError ? err : new SluiceError("INTERNAL", undefined, { cause: err });
        if (error.status === 401) void reply.header("www-authenticate", 'Basic realm="Sluice admin", charset="UTF-8"');
        if (error instanceof RateLimitedError) void reply.header("retry-after", String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
        return reply.status(error.status).send(error.toJSON());
      }
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}
