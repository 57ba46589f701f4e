import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import type { Sluice } from "../../sluice.ts";
import { assertMayGrant, hasScope, parseScopes } from "../../pipeline/intake/scopes.ts";
import { ownWorkspace, principalOf, requireScopes, workspaceScope } from "../auth.ts";

const workspaceBody = z.object({
  id: z.string().min(1).max(64),
  name: z.string().min(1).max(200).optional(),
  rate_limit_per_minute: z.number().int().positive().nullable().optional(),
});
/** A workspace's action allowlist: action names or `*`; null removes it (ALLOW_ACTIONS_DEFAULT applies). */
const allowedActions = z
  .array(
    z
      .string()
      .regex(/^(\*|[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*)$/, { error: "expected an action name such as gmail.send, or *" })
      .max(100),
  )
  .max(200)
  .nullable()
  .optional();
const keyBody = z.object({
  workspace: z.string().min(1).max(64),
  scopes: z.union([z.array(z.string()).min(1), z.string().min(1)]),
  name: z.string().max(200).optional(),
});

const workspaceView = (w: { id: string; name: string; rateLimitPerMinute: number | null; createdAt: Date }) => ({
  id: w.id,
  name: w.name,
  rate_limit_per_minute: w.rateLimitPerMinute,
  created_at: w.createdAt.toISOString(),
});

/**
 * Workspaces and API keys. A workspace admin (`admin`) sees and keys its own workspace; creating
 * and changing workspaces, and keys for any workspace, take `operator`. Every change is audited.
 */
export const adminKeyRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "actions" | "audit" | "intake" | "webhooks"> }> = async (
  app,
  { sluice },
) => {
  const { intake, audit } = sluice;
  const admin = requireScopes((secret, client) => intake.authenticate(secret, client), "admin");
  const operator = requireScopes((secret, client) => intake.authenticate(secret, client), "operator");
  const actorOf = (keyId: string) => `key:${keyId}`;

  app.get(
    "/api/workspaces",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "List workspaces",
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), after: z.string().optional() }),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      if (hasScope(principal, "operator"))
        return (
          await intake.listWorkspaces({ limit: request.query.limit, ...(request.query.after ? { after: request.query.after } : {}) })
        ).map(workspaceView);
      const own = await intake.getWorkspace(principal.workspaceId);
      return own && (request.query.after === undefined || own.id > request.query.after) ? [workspaceView(own)] : [];
    },
  );

  app.post(
    "/api/workspaces",
    { onRequest: operator, schema: { tags: ["admin"], summary: "Create a workspace", body: workspaceBody } },
    async (request, reply) => {
      const { id, name, rate_limit_per_minute } = request.body;
      const workspace = await intake.createWorkspace(
        id,
        name ?? id,
        rate_limit_per_minute === undefined ? {} : { rateLimitPerMinute: rate_limit_per_minute },
      );
      await audit.record({
        actor: actorOf(principalOf(request).keyId),
        action: "workspace.create",
        workspaceId: id,
        target: id,
        details: { rate_limit_per_minute },
      });
      return reply.status(201).send(workspaceView(workspace));
    },
  );

  app.patch(
    "/api/workspaces/:id",
    {
      onRequest: operator,
      schema: {
        tags: ["admin"],
        summary:
          "Change a workspace's name, rate limit (null: back to RATE_LIMIT_PER_MINUTE), default webhook_url (null: none) or allowed_actions (its action allowlist; null: back to ALLOW_ACTIONS_DEFAULT); audited with the before and after",
        params: z.object({ id: z.string().min(1).max(64) }),
        body: z.object({
          name: z.string().min(1).max(200).optional(),
          rate_limit_per_minute: z.number().int().positive().nullable().optional(),
          webhook_url: z.string().min(1).max(2_048).nullable().optional(),
          allowed_actions: allowedActions,
          reason: z.string().max(1000).optional(),
        }),
      },
    },
    async (request) => {
      const { id } = request.params;
      const { name, rate_limit_per_minute, webhook_url, allowed_actions, reason } = request.body;
      const before = await intake.getWorkspace(id);
      if (!before) throw new SluiceError("NOT_FOUND", `Workspace ${id} does not exist`, { details: { workspace: id } });
      const update = {
        ...(name !== undefined ? { name } : {}),
        ...(rate_limit_per_minute !== undefined ? { rateLimitPerMinute: rate_limit_per_minute } : {}),
      };
      const entry = {
        actor: actorOf(principalOf(request).keyId),
        action: "workspace.update",
        workspaceId: id,
        target: id,
        reason: reason ?? null,
        details: {
          before: {
            name: before.name,
            rate_limit_per_minute: before.rateLimitPerMinute,
            webhook_url: (await sluice.webhooks.workspaceSettings(id))?.url ?? null,
            allowed_actions: (await sluice.actions.policy.effective(id)).allowed,
          },
          ...request.body,
        },
      };
      const updated = await audit.audited(entry, async () => {
        // Checked (http(s), public host, a signing secret) before anything changes: a refused URL changes nothing.
        if (webhook_url !== undefined) await sluice.webhooks.setWorkspaceUrl(id, webhook_url);
        if (allowed_actions !== undefined)
          await sluice.actions.policy.setWorkspaceAllowlist(id, allowed_actions, actorOf(principalOf(request).keyId));
        return intake.updateWorkspace(id, update);
      });
      const actions = await sluice.actions.policy.effective(id);
      return {
        ...workspaceView(updated),
        webhook_url: (await sluice.webhooks.workspaceSettings(id))?.url ?? null,
        allowed_actions: actions.allowed,
        allowed_actions_source: actions.source,
      };
    },
  );

  app.post(
    "/api/keys",
    { onRequest: admin, schema: { tags: ["admin"], summary: "Create an API key; the secret is returned once", body: keyBody } },
    async (request, reply) => {
      const workspaceId = ownWorkspace(request, request.body.workspace);
      assertMayGrant(principalOf(request), parseScopes(request.body.scopes));
      const created = await intake.createApiKey({
        workspaceId,
        scopes: request.body.scopes,
        ...(request.body.name ? { name: request.body.name } : {}),
      });
      await audit.record({
        actor: actorOf(principalOf(request).keyId),
        action: "key.create",
        workspaceId: created.workspaceId,
        target: created.id,
        details: { scopes: created.scopes },
      });
      return reply
        .status(201)
        .send({ id: created.id, workspace: created.workspaceId, scopes: created.scopes, prefix: created.prefix, key: created.secret });
    },
  );

  app.get(
    "/api/keys",
    {
      onRequest: admin,
      schema: { tags: ["admin"], summary: "List API keys (never secrets)", querystring: z.object({ workspace: z.string().optional() }) },
    },
    async (request) =>
      (await intake.listApiKeys(workspaceScope(request, request.query.workspace || undefined))).map((k) => ({
        id: k.id,
        workspace: k.workspaceId,
        name: k.name,
        prefix: k.prefix,
        scopes: k.scopes,
        created_at: k.createdAt.toISOString(),
        last_used_at: k.lastUsedAt?.toISOString() ?? null,
      })),
  );

  app.delete(
    "/api/keys/:id",
    { onRequest: admin, schema: { tags: ["admin"], summary: "Revoke an API key", params: z.object({ id: z.string().min(1) }) } },
    async (request) => {
      const principal = principalOf(request);
      const key = await intake.revokeApiKey(
        request.params.id,
        hasScope(principal, "operator") ? {} : { workspaceId: principal.workspaceId },
      );
      await audit.record({
        actor: actorOf(principalOf(request).keyId),
        action: "key.revoke",
        workspaceId: key.workspaceId,
        target: key.id,
      });
      return { id: key.id, revoked_at: key.revokedAt?.toISOString() ?? null };
    },
  );

  app.get(
    "/api/audit",
    {
      onRequest: admin,
      schema: {
        tags: ["admin"],
        summary: "Audit log, newest first",
        querystring: z.object({
          workspace: z.string().optional(),
          action: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before_id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
        }),
      },
    },
    async (request) => {
      const q = request.query;
      const workspaceId = workspaceScope(request, q.workspace || undefined);
      return audit.list({
        ...(workspaceId ? { workspaceId } : {}),
        ...(q.action ? { action: q.action } : {}),
        limit: q.limit,
        ...(q.before_id ? { beforeId: q.before_id } : {}),
      });
    },
  );
};
