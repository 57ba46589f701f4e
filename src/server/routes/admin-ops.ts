import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { SluiceError } from "../../core/errors.ts";
import { parseGraceMs } from "../../pipeline/admin/queue-admin.ts";
import { archiveAudit } from "../../pipeline/ops/audit-archive.ts";
import { dbReport } from "../../pipeline/ops/db-report.ts";
import { recentAttemptErrors } from "../../pipeline/ops/queue-errors.ts";
import type { Sluice } from "../../sluice.ts";
import { principalOf, requireScopes } from "../auth.ts";

const archiveBody = z
  .object({
    older_than: z.union([z.number().min(0), z.string().max(32)]).optional(),
    limit: z.number().int().min(1).max(10_000).default(1_000),
    table: z.boolean().default(true),
    return_rows: z.boolean().default(false),
    reason: z.string().max(500).optional(),
  })
  .default({ limit: 1_000, table: true, return_rows: false });

/** Operator reports and housekeeping that the seeds do with psql: database report, audit archive. */
export const adminOpsRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "audit" | "config" | "intake" | "queues" | "store"> }> = async (
  app,
  { sluice },
) => {
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  const tags = ["admin"];

  app.get(
    "/api/admin/db/report",
    {
      onRequest: operator,
      schema: {
        tags,
        summary: "Slow statements (pg_stat_statements when installed), index usage, tables scanned without an index, table sizes",
        querystring: z.object({
          slower_than_ms: z.coerce.number().min(0).max(3_600_000).default(100),
          limit: z.coerce.number().int().min(1).max(500).default(20),
        }),
      },
    },
    async (request) =>
      dbReport(sluice.store, sluice.store.kind, { slowerThanMs: request.query.slower_than_ms, limit: request.query.limit }),
  );

  app.post(
    "/api/admin/audit/archive",
    {
      onRequest: operator,
      schema: {
        tags,
        summary:
          "Move audit rows older than older_than (default: AUDIT_RETENTION_DAYS, else 90d) to action_audit_archive, at most limit per call; more=true means call again (audited)",
        body: archiveBody,
      },
    },
    async (request) => {
      const body = request.body;
      if (!body.table && !body.return_rows)
        throw new SluiceError(
          "VALIDATION_FAILED",
          "table=false deletes the rows: ask for them with return_rows=true and keep them yourself (sluice audit archive --file … --no-table does)",
        );
      const olderThanMs = parseGraceMs(body.older_than, (sluice.config.audit.retentionDays || 90) * 86_400_000);
      const request_ = {
        actor: `key:${principalOf(request).keyId}`,
        reason: body.reason,
        olderThanMs,
        limit: body.limit,
        toTable: body.table,
      };
      return archiveAudit(sluice.store, sluice.audit, request_, body.return_rows);
    },
  );

  app.get(
    "/api/queues/:name/errors",
    {
      onRequest: operator,
      schema: {
        tags,
        summary:
          "The queue's most recent job attempt errors, newest first: jobs that failed at least once (for good, or retrying), each with its last error and the earlier ones",
        params: z.object({ name: z.string().min(1).max(200) }),
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(10) }),
      },
    },
    async (request) => ({
      queue: request.params.name,
      errors: await recentAttemptErrors(sluice.queues, request.params.name, request.query.limit),
    }),
  );
};
