import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Sluice } from "../../sluice.ts";
import { ownWorkspace, principalOf, requireScopes, workspaceScope } from "../auth.ts";

const tags = ["webhooks"];
const deliveryParams = z.object({ id: z.string().min(1).max(100) });
const listQuery = z.object({
  workspace: z.string().min(1).max(64).optional(),
  status: z.enum(["pending", "delivered", "failed"]).optional(),
  job: z.string().min(1).max(200).optional(),
  run: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before_id: z.string().min(1).max(100).optional(),
});
const reasonBody = z.object({ reason: z.string().max(1_000).optional() }).optional();
const workspaceBody = z.object({ workspace: z.string().min(1).max(64).optional(), reason: z.string().max(1_000).optional() }).optional();

/**
 * The delivery log of completion webhooks and what a workspace admin does with it: list (filter by
 * status, job or run), show one, redeliver one, rotate the signing secret. An admin key sees its
 * own workspace; an operator key every workspace (or one with `?workspace=`).
 */
export const webhookRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "audit" | "intake" | "webhooks"> }> = async (app, { sluice }) => {
  const { webhooks, audit } = sluice;
  const admin = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "admin");
  const actorOf = (keyId: string) => `key:${keyId}`;
  const scopeOf = (request: Parameters<typeof principalOf>[0]) => workspaceScope(request, undefined);

  app.get(
    "/api/webhooks/deliveries",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "Webhook deliveries, newest first: status, attempts, last status code and error, next attempt",
        querystring: listQuery,
      },
    },
    async (request) => {
      const q = request.query;
      const subject = q.job ? `job:${q.job}` : q.run ? `run:${q.run}` : undefined;
      return webhooks.list({
        workspace: workspaceScope(request, q.workspace),
        status: q.status,
        subject,
        limit: q.limit,
        beforeId: q.before_id,
      });
    },
  );

  app.get(
    "/api/webhooks/deliveries/:id",
    { onRequest: admin, schema: { tags, summary: "One webhook delivery", params: deliveryParams } },
    async (request) => webhooks.get(request.params.id, scopeOf(request)),
  );

  app.post(
    "/api/webhooks/deliveries/:id/redeliver",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "Send a delivered or failed webhook again (same body and event id, new signature); 409 while it is still being retried",
        params: deliveryParams,
        body: reasonBody,
      },
    },
    async (request, reply) => {
      const delivery = await webhooks.redeliver(request.params.id, scopeOf(request));
      await audit.record({
        actor: actorOf(principalOf(request).keyId),
        action: "webhook.redeliver",
        workspaceId: delivery.workspace,
        target: delivery.id,
        reason: request.body?.reason ?? null,
        details: { event: delivery.event, subject: delivery.subject, target: delivery.target },
      });
      return reply.status(202).send(delivery);
    },
  );

  app.post(
    "/api/webhooks/secret/rotate",
    {
      onRequest: admin,
      schema: {
        tags,
        summary:
          "A new signing secret for the workspace, returned once; the old one keeps signing (a second v1=) for WEBHOOK_SECRET_GRACE_SECONDS",
        body: workspaceBody,
      },
    },
    async (request) => {
      const workspace = ownWorkspace(request, request.body?.workspace ?? principalOf(request).workspaceId);
      const rotated = await webhooks.rotateSecret(workspace);
      await audit.record({
        actor: actorOf(principalOf(request).keyId),
        action: "webhook.secret.rotate",
        workspaceId: workspace,
        target: workspace,
        reason: request.body?.reason ?? null,
        details: { previous_valid_until: rotated.previous_valid_until },
      });
      return { workspace, ...rotated };
    },
  );
};
