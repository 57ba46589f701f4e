import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { MAX_WARM_ITEMS, warmCache } from "../../pipeline/cache/index.ts";
import type { Sluice } from "../../sluice.ts";
import { requireScopes } from "../auth.ts";
import { loadWarmDefault } from "../../pipeline/ops/warm-default.ts";
import { actorOf } from "./admin-queues.ts";

const clearBody = z.object({ pattern: z.string().min(1).max(500).optional(), reason: z.string().max(1000).optional() }).nullish();
const warmItem = z.object({ type: z.string().min(1).max(100), input: z.unknown() });
// No body, or no items: the CACHE_WARM_DEFAULT set (seed 004's bare `curl -X POST …/api/cache/warm`).
const warmBody = z
  .union([
    z.array(warmItem).max(MAX_WARM_ITEMS),
    z.object({
      items: z.array(warmItem).max(MAX_WARM_ITEMS).optional(),
      refresh: z.boolean().optional(),
      reason: z.string().max(1000).optional(),
    }),
  ])
  .nullish();

/** Result cache admin (scope `operator`): seed 004 §3 the Sluice way. Clear and warm are audited. */
export const cacheRoutes: FastifyPluginAsyncZod<{
  sluice: Pick<Sluice, "audit" | "budgets" | "cache" | "config" | "intake" | "killSwitches" | "logger" | "tasks">;
}> = async (app, { sluice }) => {
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  const tags = ["cache"];

  app.get(
    "/api/cache/stats",
    { onRequest: operator, schema: { tags, summary: "Hits, misses, hit rate, keys and engine of the result cache" } },
    () => sluice.cache.stats(),
  );

  app.post(
    "/api/cache/clear",
    {
      onRequest: operator,
      schema: { tags, summary: "Remove cached results, all or by glob over the key space (SCAN, never KEYS/FLUSHDB)", body: clearBody },
    },
    async (request) => {
      const pattern = request.body?.pattern ?? "*";
      const { actor, workspaceId, reason } = actorOf(request, request.body?.reason);
      const entry = {
        actor,
        action: "cache.clear",
        workspaceId: workspaceId ?? null,
        target: pattern,
        reason: reason ?? null,
        details: { pattern, engine: sluice.cache.engine },
      };
      const removed = await sluice.audit.audited(
        entry,
        () => sluice.cache.clear(pattern),
        (count) => ({ removed: count }),
      );
      return { pattern, removed, engine: sluice.cache.engine };
    },
  );

  app.post(
    "/api/cache/warm",
    {
      onRequest: operator,
      schema: { tags, summary: "Run task inputs ({type, input}) through the runtime and store their results", body: warmBody },
    },
    async (request) => {
      const given = Array.isArray(request.body) ? { items: request.body } : (request.body ?? {});
      const body = { ...given, items: given.items ?? loadWarmDefault(sluice.config.cache.warmDefault, MAX_WARM_ITEMS) };
      const { actor, workspaceId, reason } = actorOf(request, "reason" in body ? body.reason : undefined);
      const workspace = workspaceId ?? "default";
      const entry = {
        actor,
        action: "cache.warm",
        workspaceId: workspace,
        target: [...new Set(body.items.map((i) => i.type))].join(","),
        reason: reason ?? null,
      };
      return sluice.audit.audited(
        entry,
        () =>
          warmCache(
            { cache: sluice.cache, tasks: sluice.tasks, logger: sluice.logger, admit: (type, ws) => admitForWarm(sluice, type, ws) },
            body.items,
            {
              workspace,
              refresh: "refresh" in body ? body.refresh === true : false,
            },
          ),
        (report) => ({
          requested: report.requested,
          warmed: report.warmed,
          already_cached: report.already_cached,
          not_cacheable: report.not_cacheable,
          failed: report.failed,
        }),
      );
    },
  );
};

async function admitForWarm(sluice: Pick<Sluice, "budgets" | "killSwitches">, type: string, workspace: string): Promise<void> {
  await sluice.killSwitches.assertTaskEnabled(type);
  await sluice.budgets.assertWithinBudget(workspace);
}
