import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import { approverFrom } from "../../pipeline/actions/approval-proof.ts";
import { outcomeOf, type ExecutionRow } from "../../pipeline/actions/index.ts";
import type { ActionOutcome } from "../../pipeline/runs/contracts.ts";
import type { Sluice } from "../../sluice.ts";
import { principalOf, requireScopes, workspaceScope } from "../auth.ts";

const STATUSES = ["started", "succeeded", "failed", "unknown"] as const;
const executeBody = z.object({
  args: z.unknown(),
  idempotency_key: z.string().min(1).max(200),
  /** Only for actions that require approval: a decided approval task (type `action`, payload {action, args}); the approver is read from it. */
  approval_id: z.string().min(1).max(100).optional(),
  /** Refused: an approver named by the client is not proof of anything. */
  approved_by: z.string().max(200).optional(),
});
const resolveBody = z.object({
  resolution: z.enum(["retry", "skip", "succeeded"]),
  reason: z.string().min(1).max(1000),
  result: z.unknown().optional(),
});
const workspaceQuery = z.string().min(1).max(64).optional();

function executionView(row: ExecutionRow) {
  return {
    id: row.id,
    workspace: row.workspace_id,
    action: row.action,
    idempotency_key: row.idempotency_key,
    status: row.status,
    actor: row.actor,
    run_id: row.run_id,
    step_name: row.step_name,
    approved_by: row.approved_by,
    attempts: row.attempts,
    result: row.result ?? null,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? "" } : null,
    retryable: row.retryable,
    approval_id: row.approval_id,
    resolution: row.resolution,
    resolved_by: row.resolved_by,
    started_at: row.started_at.toISOString(),
    finished_at: row.finished_at?.toISOString() ?? null,
  };
}

const outcomeView = (outcome: ActionOutcome) => ({
  execution_id: outcome.executionId,
  status: outcome.status,
  ...(outcome.status === "succeeded" ? { result: outcome.result ?? null } : {}),
  ...(outcome.status === "failed" ? { error: outcome.error, retryable: outcome.retryable } : {}),
  ...(outcome.status === "unknown" ? { approval_id: outcome.approvalId ?? null } : {}),
});

/**
 * Actions: the registry with the caller's effective policy, execution through the same gate and
 * ledger as pipelines (scope `admin` of the workspace), the ledger, and the actions' audit trail.
 */
export const actionRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "actions" | "approvals" | "intake"> }> = async (
  app,
  { sluice },
) => {
  const authenticate = (secret: string, client?: string) => sluice.intake.authenticate(secret, client);
  const reader = requireScopes(authenticate, "jobs:read");
  const admin = requireScopes(authenticate, "admin");
  const tags = ["actions"];

  app.get(
    "/api/actions",
    {
      onRequest: reader,
      schema: { tags, summary: "Registered actions and the effective policy (switch, allowlist, approval) for the caller's workspace" },
    },
    async (request) => {
      const { policy, actions } = await sluice.actions.describe(principalOf(request).workspaceId);
      return {
        workspace: principalOf(request).workspaceId,
        enabled: policy.enabled,
        allowed_actions: policy.allowed,
        allowed_actions_source: policy.source,
        require_approval: policy.requireApproval,
        actions,
      };
    },
  );

  app.post(
    "/api/actions/:name/execute",
    {
      onRequest: admin,
      schema: {
        tags,
        summary:
          "Execute an action in the caller's workspace, at most once per idempotency_key (200 settled, 202 outcome unknown: a person decides)",
        params: z.object({ name: z.string().min(1).max(100) }),
        body: executeBody,
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (request.body.approved_by !== undefined)
        throw new SluiceError(
          "VALIDATION_FAILED",
          'approved_by is not accepted: send approval_id, a decided approval task of type "action" for this action and arguments',
        );
      const { approval_id: approvalId } = request.body;
      const task = approvalId ? await sluice.approvals.get(principal.workspaceId, approvalId).catch(() => undefined) : undefined;
      const approvedBy = approvalId
        ? approverFrom(task, { workspace: principal.workspaceId, action: request.params.name, args: request.body.args, approvalId })
        : undefined;
      const outcome = await sluice.actions.executor.execute({
        workspace: principal.workspaceId,
        action: request.params.name,
        args: request.body.args,
        idempotencyKey: request.body.idempotency_key,
        actor: `key:${principal.keyId}`,
        ...(approvedBy && approvalId ? { approvedBy, approvalId } : {}),
      });
      return reply.status(outcome.status === "unknown" ? 202 : 200).send(outcomeView(outcome));
    },
  );

  app.get(
    "/api/actions/executions",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "The action ledger, newest first (an operator may name any workspace or none)",
        querystring: z.object({
          workspace: workspaceQuery,
          status: z.enum(STATUSES).optional(),
          action: z.string().min(1).max(100).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before: z.iso.datetime({ offset: true }).optional(),
        }),
      },
    },
    async (request) => {
      const q = request.query;
      const rows = await sluice.actions.executions({
        workspace: workspaceScope(request, q.workspace),
        status: q.status,
        action: q.action,
        limit: q.limit,
        before: q.before ? new Date(q.before) : undefined,
      });
      return { executions: rows.map(executionView) };
    },
  );

  app.post(
    "/api/actions/executions/:id/resolve",
    {
      onRequest: admin,
      schema: {
        tags,
        summary:
          "Decide an execution whose outcome is unknown: retry (run once more at the next call with its key), skip (never run again: failed), succeeded (it did take effect); audited",
        params: z.object({ id: z.string().min(1).max(100) }),
        body: resolveBody,
      },
    },
    async (request) => {
      const current = await sluice.actions.execution(request.params.id);
      if (!current || workspaceScope(request, current.workspace_id) !== current.workspace_id)
        throw new SluiceError("NOT_FOUND", `No action execution ${request.params.id}`);
      const row = await sluice.actions.executor.resolve(
        request.params.id,
        request.body.resolution,
        `key:${principalOf(request).keyId}`,
        request.body.reason,
        request.body.result,
      );
      return { ...executionView(row), outcome: outcomeView(outcomeOf(row)) };
    },
  );

  app.get(
    "/api/audit/actions",
    {
      onRequest: admin,
      schema: {
        tags,
        summary: "The actions' entries of action_audit (action.execute, action.refused, action.unknown, action.resolve), newest first",
        querystring: z.object({
          workspace: workspaceQuery,
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before_id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
        }),
      },
    },
    async (request) => {
      const q = request.query;
      return {
        entries: await sluice.actions.audit({ workspace: workspaceScope(request, q.workspace), limit: q.limit, beforeId: q.before_id }),
      };
    },
  );
};
