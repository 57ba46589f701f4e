import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Sluice } from "../../sluice.ts";
import { principalOf, requireScopes, workspaceScope } from "../auth.ts";
import { actorOf } from "./admin-queues.ts";

const nameParams = z.object({ name: z.string().min(1).max(100) });
const listQuery = z.object({ workspace: z.string().min(1).max(100).optional() });
const putBody = z.object({
  cron: z.string().min(1).max(200),
  tz: z.string().min(1).max(100).optional(),
  target: z.object({ kind: z.enum(["task", "pipeline"]), name: z.string().min(1).max(200), input: z.unknown().optional() }),
  reason: z.string().max(2000).optional(),
});
const deleteBody = z.object({ reason: z.string().max(2000).optional() }).nullish();

/** Cron schedules (scope `admin`; a schedule runs in the key's workspace). An operator lists every workspace's. */
export const scheduleRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "intake" | "schedules"> }> = async (app, { sluice }) => {
  const admin = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "admin");
  const tags = ["schedules"];

  app.get(
    "/api/schedules",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "Every schedule with cron_job_status's last_run_at, next_run_at, status and health (OK/STALE)",
        querystring: listQuery,
      },
    },
    async (request) => ({
      schedules: await sluice.schedules.list(workspaceScope(request, request.query.workspace)),
    }),
  );
  app.get("/api/schedules/:name", { onRequest: admin, schema: { tags, summary: "One schedule", params: nameParams } }, (request) =>
    sluice.schedules.get(request.params.name, workspaceScope(request, undefined)),
  );
  app.put(
    "/api/schedules/:name",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "Create or change a schedule (cron with time zone; target a task or a pipeline), audited",
        params: nameParams,
        body: putBody,
      },
    },
    (request) => {
      const { reason, cron, tz, target } = request.body;
      const workspace = principalOf(request).workspaceId;
      return sluice.schedules.put(
        { name: request.params.name, cron, tz, target: { ...target, workspace } },
        actorOf(request, reason),
        "api",
      );
    },
  );
  app.delete(
    "/api/schedules/:name",
    {
      onRequest: admin,
      schema: { tags, summary: "Remove a schedule and its BullMQ scheduler, audited", params: nameParams, body: deleteBody },
    },
    (request) => {
      const actor = actorOf(request, request.body?.reason);
      return sluice.schedules.remove({ ...actor, workspaceId: principalOf(request).workspaceId }, request.params.name);
    },
  );
};
