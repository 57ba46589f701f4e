import type { PGlite } from "@electric-sql/pglite";
import { createPostgresBackend, withBackend } from "bullmq";
import { SluiceError } from "../../../core/errors.ts";
import type { QueueBackend } from "../../../ports/queue.ts";
import { bindClasses, measureHealth } from "../common.ts";
import { createPglitePool, type PglitePool } from "./pool.ts";
import { BULLMQ_SCHEMA, migrateBullmq } from "../postgres/backend.ts";

export interface PgliteQueueBackendOptions {
  kind: "pglite";
  /** The process's one PGlite instance, shared with the store; the backend never closes it. */
  db: PGlite;
}

/**
 * Tables, sequences and functions in schemas ahead of `bullmq` on the search_path that share a name
 * with one of BullMQ's: they would capture BullMQ's unqualified command SQL on the shared session.
 */
const SHADOWED = `
  WITH ours AS (
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
  ), others AS (
    SELECT n.nspname || '.' || c.relname AS qualified, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY (current_schemas(false)) AND n.nspname <> $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION SELECT n.nspname || '.' || p.proname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = ANY (current_schemas(false)) AND n.nspname <> $1
  )
  SELECT DISTINCT qualified FROM others JOIN ours USING (name) ORDER BY qualified`;

async function assertNothingShadowsBullmq(pool: PglitePool): Promise<void> {
  const { rows } = await pool.query<{ qualified: string }>(SHADOWED, [BULLMQ_SCHEMA]);
  if (rows.length === 0) return;
  const names = rows.map((r) => r.qualified).join(", ");
  throw new SluiceError(
    "MIGRATION_FAILED",
    `Embedded queues share PGlite's one session with the store, and these objects shadow BullMQ's own in the "${BULLMQ_SCHEMA}" schema: ${names}. Rename them.`,
    { details: rows.map((r) => r.qualified) },
  );
}

/**
 * BullMQ's Postgres backend in-process on the PGlite instance the store uses (embedded mode). The
 * instance is the caller's; close() only ends the pool.
 */
export async function createPgliteQueueBackend(options: PgliteQueueBackendOptions): Promise<QueueBackend> {
  const pool = await createPglitePool(options.db, { schema: BULLMQ_SCHEMA });
  await migrateBullmq(() => pool.connect());
  await assertNothingShadowsBullmq(pool);
  const ping = async () => {
    try {
      await pool.query("SELECT 1");
    } catch (err) {
      throw new SluiceError("DEPENDENCY_UNAVAILABLE", `PGlite does not answer: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }
  };
  let closing: Promise<void> | undefined;
  return {
    kind: "pglite",
    ...bindClasses(withBackend(createPostgresBackend)),
    queueOptions: { connection: pool },
    workerOptions: { connection: pool },
    fleetWideWorkerCount: false,
    ping,
    health: () => measureHealth("pglite", ping),
    close: () => (closing ??= pool.end()),
  };
}
