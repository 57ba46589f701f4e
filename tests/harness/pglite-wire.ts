import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { PGlite } from "@electric-sql/pglite";
import { openPglite } from "../../src/adapters/store/pglite/open.ts";
import { freePort } from "./servers.ts";
import { testPgliteDataDir } from "./pglite-template.ts";

export interface PgliteOnTheWire {
  db: PGlite;
  /** `postgres://…` for the pg driver. */
  url: string;
  close(): Promise<void>;
}

/**
 * An in-memory PGlite (with pgvector) served on the Postgres wire protocol on a free port, so the
 * network driver path meets real pgvector (Debian's PostgreSQL has none). All connections share
 * PGlite's one session, one message at a time.
 */
export async function servePgliteOnTheWire(maxConnections = 20): Promise<PgliteOnTheWire> {
  const db = await openPglite(testPgliteDataDir());
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1", maxConnections });
  await server.start();
  return {
    db,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
