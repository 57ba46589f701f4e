import type { Store } from "../../ports/store.ts";
import type { AdminActor } from "../admin/queue-admin.ts";
import { createAuditLog } from "../audit/audit-log.ts";
import { reindexVectorIndex, reindexWorkspace, retryFailed, vacuumAnalyze, VECTOR_INDEX } from "./sql/index.ts";

/**
 * Runbook 000's "Reindexare Embeddings" as audited operations. The re-queues run in one transaction
 * with their `action_audit` row (both happen or neither); VACUUM and REINDEX CONCURRENTLY cannot run
 * inside a transaction, so they are audited right after they finish.
 */

const entry = (who: AdminActor, action: string, target: string, details: Record<string, unknown>) => ({
  actor: who.actor,
  action,
  workspaceId: who.workspaceId ?? null,
  target,
  reason: who.reason ?? null,
  details,
});

/** "Full Reindex": every item of the workspace back to `pending` (vectors kept until replaced). */
export async function auditedReindexWorkspace(
  store: Store,
  who: AdminActor,
  workspaceId: string,
): Promise<{ workspace: string; requeued: number }> {
  const requeued = await store.transaction(async (tx) => {
    const n = await reindexWorkspace(tx, workspaceId);
    await createAuditLog(tx).record(entry(who, "embeddings.reindex", workspaceId, { requeued: n }));
    return n;
  });
  return { workspace: workspaceId, requeued };
}

/** "Reindex produse failed": the runbook's `retry_count < 3`, or every failed item with `force`. */
export async function auditedRetryFailed(
  store: Store,
  who: AdminActor,
  options: { workspaceId?: string | undefined; force?: boolean },
): Promise<{ requeued: number; force: boolean }> {
  const force = options.force === true;
  const requeued = await store.transaction(async (tx) => {
    const n = await retryFailed(tx, { force, ...(options.workspaceId !== undefined ? { workspaceId: options.workspaceId } : {}) });
    await createAuditLog(tx).record(entry(who, "embeddings.retry-failed", options.workspaceId ?? "*", { requeued: n, force }));
    return n;
  });
  return { requeued, force };
}

/** "VACUUM HNSW Index": VACUUM ANALYZE of both embedding tables. */
export async function auditedVacuum(store: Store, who: AdminActor): Promise<{ tables: { table: string; durationMs: number }[] }> {
  const tables = await vacuumAnalyze(store);
  await createAuditLog(store).record(entry(who, "embeddings.vacuum", "shop_product_embeddings,embedding_batches", { tables }));
  return { tables };
}

/** "REINDEX (doar pentru coruptie severa)": REINDEX INDEX [CONCURRENTLY] idx_shop_embeddings_vector. */
export async function auditedReindexIndex(
  store: Store,
  who: AdminActor,
  options: { concurrently?: boolean },
): Promise<{ index: string; concurrently: boolean; durationMs: number }> {
  const done = await reindexVectorIndex(store, { concurrently: options.concurrently ?? true });
  await createAuditLog(store).record(entry(who, "embeddings.reindex-index", VECTOR_INDEX, { ...done }));
  return { index: VECTOR_INDEX, ...done };
}
