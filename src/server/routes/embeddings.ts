import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import { BATCH_STATUSES, type BatchStatus } from "../../pipeline/embeddings/sql/types.ts";
import { DEFAULT_MAX_INGEST_ITEMS, MAX_EXTERNAL_ID_LENGTH, MAX_TEXT_LENGTH } from "../../pipeline/embeddings/sql/ingest.ts";
import { MAX_SEARCH_K } from "../../pipeline/embeddings/sql/search-items.ts";
import type { Sluice } from "../../sluice.ts";
import { hasScope } from "../../pipeline/intake/scopes.ts";
import { ownWorkspace, principalOf, requireScopes, spendBudget } from "../auth.ts";
import { snakeCaseKeys } from "../snake-case.ts";
import { actorOf } from "./admin-queues.ts";

const wsParams = z.object({ ws: z.string().min(1).max(64) });
const itemParams = z.object({ ws: z.string().min(1).max(64), id: z.string().min(1).max(MAX_EXTERNAL_ID_LENGTH) });
const externalId = z.string().min(1).max(MAX_EXTERNAL_ID_LENGTH);
const metadata = z.record(z.string(), z.unknown());

const ingestBody = z
  .object({
    items: z
      .array(z.object({ id: externalId, text: z.string().min(1).max(MAX_TEXT_LENGTH), metadata: metadata.optional() }))
      .max(DEFAULT_MAX_INGEST_ITEMS)
      .optional(),
    delete: z.array(externalId).max(DEFAULT_MAX_INGEST_ITEMS).optional(),
  })
  .refine((b) => b.items !== undefined || b.delete !== undefined, { message: "give items, delete, or both" });

const searchBody = z.object({
  query: z.string().min(1).max(MAX_TEXT_LENGTH).optional(),
  vector: z.array(z.number()).min(1).max(16_000).optional(),
  k: z.number().int().min(1).max(MAX_SEARCH_K).optional(),
  filter: metadata.optional(),
  ef_search: z.number().int().min(1).max(1_000).optional(),
  model: z.string().min(1).max(200).optional(),
});

const reindexBody = z.object({
  workspace: z.string().min(1).max(64).optional(),
  failed: z.boolean().optional(),
  force: z.boolean().optional(),
  reason: z.string().max(1000).optional(),
});
const reasonBody = z.object({ reason: z.string().max(1000).optional() }).nullish();
const indexBody = z.object({ concurrently: z.boolean().optional(), reason: z.string().max(1000).optional() }).nullish();
const batchesQuery = z.object({ status: z.string().max(100).optional() });

function notFound(workspaceId: string): SluiceError {
  return new SluiceError("NOT_FOUND", `Workspace '${workspaceId}' does not exist`, { details: { workspace: workspaceId } });
}

/**
 * Embeddings ingest and search for one workspace (jobs:write / jobs:read), and the backfill's
 * admin operations (scope admin; runbook 000). Like the jobs API, another workspace is a 404
 * exactly like a missing one: a key never learns which workspaces exist. A workspace admin reindexes
 * its own workspace; an operator key acts on any workspace and runs the fleet-wide operations.
 */
export const embeddingRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "config" | "embeddings" | "intake"> }> = async (
  app,
  { sluice },
) => {
  const authenticate = (secret: string, client?: string) => sluice.intake.authenticate(secret, client);
  const write = requireScopes(authenticate, "jobs:write");
  const read = requireScopes(authenticate, "jobs:read");
  const spend = (kind: "reads" | "search" | "ingest") => spendBudget((ws, k) => sluice.intake.consume(ws, k), kind);
  const admin = requireScopes(authenticate, "admin");
  const operator = requireScopes(authenticate, "operator");
  const { embeddings } = sluice;
  const tags = ["embeddings"];

  /** The workspace the caller may act on, or the same 404 for "not yours" and "does not exist". */
  async function workspaceOf(request: FastifyRequest, workspaceId: string): Promise<string> {
    const principal = principalOf(request);
    if (principal.workspaceId === workspaceId) return workspaceId;
    if (!hasScope(principal, "operator")) throw notFound(workspaceId);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(workspaceId) || !(await sluice.intake.getWorkspace(workspaceId)))
      throw notFound(workspaceId);
    return workspaceId;
  }

  app.put(
    "/api/workspaces/:ws/items",
    {
      onRequest: [write, spend("ingest")],
      bodyLimit: sluice.config.embeddings.ingestBodyLimitBytes,
      schema: {
        tags,
        summary: "Bulk upsert (and delete) items to embed; unchanged texts are not re-embedded",
        params: wsParams,
        body: ingestBody,
      },
    },
    async (request) => {
      const workspaceId = await workspaceOf(request, request.params.ws);
      const items = (request.body.items ?? []).map((i) => ({
        externalId: i.id,
        text: i.text,
        ...(i.metadata ? { metadata: i.metadata } : {}),
      }));
      return embeddings.upsert(workspaceId, items, { delete: request.body.delete ?? [] });
    },
  );

  app.get(
    "/api/workspaces/:ws/items/:id",
    { onRequest: [read, spend("reads")], schema: { tags, summary: "One item's embedding state", params: itemParams } },
    async (request) => {
      const workspaceId = await workspaceOf(request, request.params.ws);
      const item = await embeddings.item(workspaceId, request.params.id);
      if (!item) throw new SluiceError("NOT_FOUND", `No item '${request.params.id}' in workspace '${workspaceId}'`);
      return snakeCaseKeys(item);
    },
  );

  app.delete(
    "/api/workspaces/:ws/items/:id",
    { onRequest: write, schema: { tags, summary: "Delete one item (it leaves the index)", params: itemParams } },
    async (request) => {
      const workspaceId = await workspaceOf(request, request.params.ws);
      const deleted = await embeddings.remove(workspaceId, [request.params.id]);
      if (deleted === 0) throw new SluiceError("NOT_FOUND", `No item '${request.params.id}' in workspace '${workspaceId}'`);
      return { deleted };
    },
  );

  app.post(
    "/api/workspaces/:ws/search",
    {
      onRequest: [read, spend("search")],
      schema: { tags, summary: "The k nearest items to a text or a vector (cosine)", params: wsParams, body: searchBody },
    },
    async (request) => {
      const workspaceId = await workspaceOf(request, request.params.ws);
      const { query, vector, k, filter, ef_search: efSearch, model } = request.body;
      const started = performance.now();
      const found = await embeddings.search(workspaceId, { query, vector, k, filter, efSearch, model });
      return { ...found, took_ms: Math.round((performance.now() - started) * 100) / 100 };
    },
  );

  app.get(
    "/api/embeddings/backlog",
    { onRequest: operator, schema: { tags, summary: "Backlog per workspace and status, top 10 pending, stuck batches, recent errors" } },
    async () => snakeCaseKeys(await embeddings.backlog()),
  );

  app.get(
    "/api/embeddings/batches",
    {
      onRequest: operator,
      schema: { tags, summary: "Provider batches, oldest first (status: comma-separated)", querystring: batchesQuery },
    },
    (request) => {
      const statuses = request.query.status?.split(",").map((s) => s.trim());
      if (statuses?.some((s) => !(BATCH_STATUSES as readonly string[]).includes(s)))
        throw new SluiceError("VALIDATION_FAILED", `status must be among ${BATCH_STATUSES.join(", ")}`);
      return embeddings.batches(statuses as BatchStatus[] | undefined).then((batches) => ({ batches: snakeCaseKeys(batches) }));
    },
  );

  app.post(
    "/api/embeddings/reindex",
    {
      onRequest: admin,
      schema: { tags, summary: "Re-queue a workspace ({workspace}) or failed items ({failed: true, force?})", body: reindexBody },
    },
    async (request) => {
      const { workspace, failed, force, reason } = request.body;
      const who = actorOf(request, reason);
      // A workspace admin reindexes its own workspace only; the fleet-wide retry of failed items is an operator's.
      if (workspace === undefined && !hasScope(principalOf(request), "operator"))
        throw new SluiceError("FORBIDDEN_SCOPE", "Without a workspace this is fleet-wide: it needs the operator scope", {
          details: { required: "operator" },
        });
      if (workspace !== undefined) ownWorkspace(request, workspace);
      if (workspace !== undefined && !(await sluice.intake.getWorkspace(workspace))) throw notFound(workspace);
      if (failed === true) return embeddings.retryFailed(who, { workspaceId: workspace, force: force === true });
      if (force !== undefined)
        throw new SluiceError("VALIDATION_FAILED", "force only applies with failed: true", { details: { field: "force" } });
      if (workspace === undefined)
        throw new SluiceError("VALIDATION_FAILED", "Give workspace, or failed: true", { details: { field: "workspace" } });
      return embeddings.reindexWorkspace(who, workspace);
    },
  );

  app.post(
    "/api/embeddings/maintenance/vacuum",
    { onRequest: operator, schema: { tags, summary: "VACUUM ANALYZE of the embedding tables", body: reasonBody } },
    async (request) => snakeCaseKeys(await embeddings.vacuum(actorOf(request, request.body?.reason))),
  );

  app.post(
    "/api/embeddings/maintenance/reindex",
    { onRequest: operator, schema: { tags, summary: "REINDEX INDEX CONCURRENTLY idx_shop_embeddings_vector", body: indexBody } },
    async (request) =>
      snakeCaseKeys(
        await embeddings.reindexIndex(actorOf(request, request.body?.reason), { concurrently: request.body?.concurrently ?? true }),
      ),
  );
};
