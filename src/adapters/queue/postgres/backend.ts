import { createPostgresBackend, runMigrations, withBackend, type PgPoolClient } from "bullmq";
import { SluiceError } from "../../../core/errors.ts";
import type { QueueBackend } from "../../../ports/queue.ts";
import { bindClasses, measureHealth } from "../common.ts";
import { PgPoolPair } from "./pools.ts";

export interface PostgresQueueBackendOptions {
  kind: "postgres";
  connectionString: string;
  /** Configured pool size (DATABASE_POOL_SIZE); raised to half the worker concurrency if smaller. @default 10 */
  poolSize?: number;
  /** Worker concurrency this process runs (QUEUE_CONCURRENCY), for pool sizing. @default 10 */
  concurrency?: number;
  /** Ceiling on the long-lived LISTEN connections (one per Worker/QueueEvents). @default 50 */
  maxListenConnections?: number;
}

/** BullMQ's schema. A pool handed to BullMQ always uses its default schema, so this is fixed. */
export const BULLMQ_SCHEMA = "bullmq";

/** The query pool: the configured size, but never under half the worker concurrency (it was the bottleneck). */
function queryPoolSize(poolSize = 10, concurrency = 10): number {
  return Math.max(poolSize, Math.ceil(concurrency / 2));
}

/** Applies BullMQ's migrations on one dedicated session (its advisory lock and transaction need one). */
export async function migrateBullmq(connect: () => Promise<PgPoolClient>): Promise<number> {
  let client: PgPoolClient;
  try {
    client = await connect();
  } catch (err) {
    throw new SluiceError(
      "DEPENDENCY_UNAVAILABLE",
      `Cannot connect to the queue database: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  try {
    return await runMigrations(client, BULLMQ_SCHEMA);
  } catch (err) {
    throw new SluiceError("MIGRATION_FAILED", `BullMQ's Postgres migrations failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  } finally {
    client.release();
  }
}

/** BullMQ on a PostgreSQL server (its `createPostgresBackend`), migrations applied at creation. */
export async function createPostgresQueueBackend(options: PostgresQueueBackendOptions): Promise<QueueBackend> {
  const pools = new PgPoolPair({
    connectionString: options.connectionString,
    querySize: queryPoolSize(options.poolSize, options.concurrency),
    sessionMax: options.maxListenConnections ?? 50,
    schema: BULLMQ_SCHEMA,
  });
  try {
    // pg's PoolClient is what BullMQ's PgPoolClient describes; their optional fields differ only in `| undefined`.
    await migrateBullmq(() => pools.connect() as Promise<PgPoolClient>);
  } catch (err) {
    await pools.end();
    throw err;
  }
  const ping = async () => {
    try {
      await pools.query("SELECT 1");
    } catch (err) {
      throw new SluiceError(
        "DEPENDENCY_UNAVAILABLE",
        `Queue database does not answer: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  };
  let closing: Promise<void> | undefined;
  return {
    kind: "postgres",
    ...bindClasses(withBackend(createPostgresBackend)),
    queueOptions: { connection: pools },
    workerOptions: { connection: pools },
    fleetWideWorkerCount: true,
    ping,
    health: () => measureHealth("postgres", ping),
    close: () => (closing ??= pools.end()),
  };
}
