import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { dbReport } from "../../pipeline/ops/db-report.ts";
import type { Sluice } from "../../sluice.ts";
import { requireScopes } from "../auth.ts";

/** Operator reports and housekeeping that the seeds do with psql: database report. */
export const adminOpsRoutes: FastifyPluginAsyncZod<{ sluice: Sluice }> = async (app, { sluice }) => {
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  const tags = ["admin"];

  app.get(
    "/api/admin/db/report",
    {
      onRequest: operator,
      schema: {
        tags,
        summary: "Slow statements (pg_stat_statements when installed), index usage, tables scanned without an index, table sizes",
        querystring: z.object({ slower_than_ms: z.coerce.number().min(0).max(3_600_000).default(100), limit: z.coerce.number().int().min(1).max(500).default(20) }),
      },
    },
    async (request) => dbReport(sluice.store, sluice.store.kind, { slowerThanMs: request.query.slower_than_ms, limit: request.query.limit }),
  );
};
