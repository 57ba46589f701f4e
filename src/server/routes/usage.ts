import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Sluice } from "../../sluice.ts";
import { ownWorkspace, requireScopes, workspaceScope } from "../auth.ts";
import { actorOf } from "./admin-queues.ts";

const usageQuery = z.object({ workspace: z.string().min(1).max(100).optional(), days: z.coerce.number().int().min(1).max(366).default(7) });
const budgetParams = z.object({ workspace: z.string().min(1).max(100) });
const budgetBody = z.object({
  daily_token_budget: z.number().int().min(0).max(1_000_000_000_000).nullable(),
  reason: z.string().max(1000).optional(),
});

/** Token and cost accounting (a workspace admin reads its own), and daily token budgets (set by an operator). */
export const usageRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "accounting" | "budgets" | "intake"> }> = async (
  app,
  { sluice },
) => {
  const admin = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "admin");
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  const tags = ["usage"];

  app.get(
    "/api/usage",
    {
      onRequest: admin,
      schema: { tags, summary: "Tokens and cost per UTC day, workspace, provider and model; budgets", querystring: usageQuery },
    },
    async (request) => {
      const { days } = request.query;
      const workspace = workspaceScope(request, request.query.workspace);
      const report = await sluice.accounting.usage({ workspaceId: workspace, days });
      return { ...report, days, workspace: workspace ?? null, budgets: await sluice.budgets.list(workspace) };
    },
  );

  app.get(
    "/api/usage/budgets/:workspace",
    { onRequest: admin, schema: { tags, summary: "A workspace's daily token budget and what it spent today", params: budgetParams } },
    (request) => sluice.budgets.status(ownWorkspace(request, request.params.workspace)),
  );

  app.put(
    "/api/usage/budgets/:workspace",
    {
      onRequest: operator,
      schema: {
        tags,
        summary: "Set a workspace's daily token budget (0 unlimited, null = WORKSPACE_DAILY_TOKEN_BUDGET)",
        params: budgetParams,
        body: budgetBody,
      },
    },
    (request) => {
      const { actor, workspaceId, reason } = actorOf(request, request.body.reason);
      return sluice.budgets.set(request.params.workspace, request.body.daily_token_budget, { actor, workspaceId, reason });
    },
  );
};
