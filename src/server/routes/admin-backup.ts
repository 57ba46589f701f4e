import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { SluiceError } from "../../core/errors.ts";
import type { Sluice } from "../../sluice.ts";
import { principalOf, requireScopes } from "../auth.ts";

/**
 * A live backup of the embedded database (runbook 001/004 "Backup & Recovery"). On a PostgreSQL
 * server the answer is pg_dump, which this endpoint says rather than pretending.
 */
export const adminBackupRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "audit" | "intake" | "store"> }> = async (app, { sluice }) => {
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  app.get(
    "/api/admin/backup",
    { onRequest: operator, schema: { tags: ["admin"], summary: "Download a gzipped tarball of the embedded (PGlite) database" } },
    async (request, reply) => {
      if (!sluice.store.snapshot) {
        throw new SluiceError(
          "CONFLICT",
          "This Sluice uses a PostgreSQL server: back it up with pg_dump $DATABASE_URL (see docs/runbook.md, Backups)",
        );
      }
      const bytes = await sluice.store.snapshot();
      await sluice.audit.record({
        actor: `key:${principalOf(request).keyId}`,
        action: "backup.download",
        details: { bytes: bytes.byteLength },
      });
      const name = `sluice-backup-${new Date().toISOString().replace(/[:.]/g, "-")}.tar.gz`;
      return reply
        .header("content-type", "application/gzip")
        .header("content-disposition", `attachment; filename="${name}"`)
        .send(Buffer.from(bytes));
    },
  );
};
