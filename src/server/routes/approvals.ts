import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import { parseGraceMs } from "../../pipeline/admin/queue-admin.ts";
import type { Sluice } from "../../sluice.ts";
import { requireScopes } from "../auth.ts";
import { actorOf } from "./admin-queues.ts";

const STATUSES = ["pending", "approved", "rejected", "expired", "escalated"] as const;
const label = z.string().min(1).max(200);
const idParams = z.object({ id: z.string().min(1).max(100) });
const typeParams = z.object({ type: label });
const booleanText = z.enum(["true", "false"]).transform((v) => v === "true");
const inboxQuery = z.object({
  type: label.optional(),
  stage: label.optional(),
  assignee: label.optional(),
  /** One status or several, comma-separated. */
  status: z
    .string()
    .max(100)
    .transform((s) => s.split(",").map((x) => x.trim()))
    .pipe(z.array(z.enum(STATUSES)))
    .optional(),
  overdue: booleanText.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
const decisionBody = z.object({ reason: z.string().max(2000).optional() }).nullish();
const reassignBody = z.object({ assignee: label, reason: z.string().max(2000).optional() });
const createBody = z.object({
  approval_type: label,
  pipeline_stage: label.optional(),
  payload: z.unknown().optional(),
  assignee: label.optional(),
  due_in_seconds: z.number().int().min(1).max(31_536_000).optional(),
});
const typeBody = z.object({
  sla_seconds: z.number().int().min(1).max(31_536_000),
  assignee_rule: z.string().min(1).max(2000).nullish(),
  on_deadline: z.enum(["expire", "escalate", "auto_approve", "auto_reject"]).optional(),
  escalate_to: label.nullish(),
  notify_action: label.nullish(),
  notify_args: z.record(z.string(), z.unknown()).optional(),
  reason: z.string().max(2000).optional(),
});
const archiveBody = z
  .object({
    older_than: z.union([z.number().nonnegative(), z.string().max(20)]).optional(),
    pipeline_stage: label.optional(),
    reason: z.string().max(2000).optional(),
  })
  .nullish();

const THIRTY_DAYS_MS = 30 * 86_400_000;
// Past this the database's interval arithmetic overflows; nothing is that old anyway.
const TEN_YEARS_MS = 3_650 * 86_400_000;

/** Human approvals of the key's own workspace (scope `admin`): seed 003's HITL inbox, decisions, SLA configs and archive. */
export const approvalRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "approvals" | "intake"> }> = async (app, { sluice }) => {
  const admin = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "admin");
  const tags = ["approvals"];
  const own = (request: Parameters<typeof actorOf>[0], reason?: string) => {
    const actor = actorOf(request, reason);
    return { ...actor, workspaceId: actor.workspaceId ?? "" };
  };

  app.get(
    "/api/approvals",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "The inbox: filter by type, stage, assignee, status (comma-separated), overdue; oldest deadline first",
        querystring: inboxQuery,
      },
    },
    (request) => {
      const q = request.query;
      return sluice.approvals.list(own(request).workspaceId, {
        approvalType: q.type,
        pipelineStage: q.stage,
        assignee: q.assignee,
        status: q.status,
        overdue: q.overdue,
        limit: q.limit,
        offset: q.offset,
      });
    },
  );
  app.post(
    "/api/approvals",
    { onRequest: admin, schema: { tags, summary: "Open a standalone approval task (runs open theirs from a step)", body: createBody } },
    async (request, reply) => {
      const b = request.body;
      const { row } = await sluice.approvals.create({
        workspace: own(request).workspaceId,
        approvalType: b.approval_type,
        payload: b.payload ?? {},
        ...(b.pipeline_stage ? { pipelineStage: b.pipeline_stage } : {}),
        ...(b.assignee ? { assignee: b.assignee } : {}),
        ...(b.due_in_seconds ? { dueInMs: b.due_in_seconds * 1000 } : {}),
      });
      return reply.code(201).send(await sluice.approvals.get(row.workspace_id, row.id));
    },
  );
  app.get("/api/approvals/:id", { onRequest: admin, schema: { tags, summary: "One approval task", params: idParams } }, (request) =>
    sluice.approvals.get(own(request).workspaceId, request.params.id),
  );
  app.post(
    "/api/approvals/:id/approve",
    { onRequest: admin, schema: { tags, summary: "Approve (audited; resumes the waiting run)", params: idParams, body: decisionBody } },
    (request) => sluice.approvals.decide(own(request, request.body?.reason), request.params.id, true, request.body?.reason),
  );
  app.post(
    "/api/approvals/:id/reject",
    { onRequest: admin, schema: { tags, summary: "Reject (audited; resumes the waiting run)", params: idParams, body: decisionBody } },
    (request) => sluice.approvals.decide(own(request, request.body?.reason), request.params.id, false, request.body?.reason),
  );
  app.post(
    "/api/approvals/:id/reassign",
    { onRequest: admin, schema: { tags, summary: "Give an open task to someone else (audited)", params: idParams, body: reassignBody } },
    (request) => sluice.approvals.reassign(own(request, request.body.reason), request.params.id, request.body.assignee),
  );
  app.post(
    "/api/approvals/archive",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "Move decided tasks older than older_than (default 30d) to approval_tasks_archive, in one transaction (audited)",
        body: archiveBody,
      },
    },
    (request) => {
      const olderThanMs = parseGraceMs(request.body?.older_than, THIRTY_DAYS_MS);
      if (olderThanMs > TEN_YEARS_MS) throw new SluiceError("VALIDATION_FAILED", "older_than is at most 10 years (3650d)");
      return sluice.approvals.archive(own(request, request.body?.reason), {
        olderThanSeconds: olderThanMs / 1000,
        pipelineStage: request.body?.pipeline_stage,
      });
    },
  );
  app.get(
    "/api/approval-types",
    { onRequest: admin, schema: { tags, summary: "Approval type configs: SLA, assignee rule, deadline behaviour, notification" } },
    async (request) => ({
      types: await sluice.approvals.listTypes(own(request).workspaceId),
    }),
  );
  app.put(
    "/api/approval-types/:type",
    {
      onRequest: admin,
      schema: { tags, summary: "Create or change an approval type's config (audited)", params: typeParams, body: typeBody },
    },
    (request) => {
      const { reason, ...update } = request.body;
      return sluice.approvals.putType(own(request, reason), request.params.type, update);
    },
  );
};
