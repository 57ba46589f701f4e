import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { createPgStore } from "../../../src/adapters/store/pg/store.ts";
import { openPglite } from "../../../src/adapters/store/pglite/open.ts";
import { freePort } from "../../harness/servers.ts";
import { storeConformance } from "./store-suite.ts";

// The network driver path (pg over TCP) meeting real pgvector: PGlite served on the wire protocol.
storeConformance({
  name: "PGlite over the wire (pg driver, pgvector)",
  vector: true,
  open: async () => {
    const db = await openPglite(undefined);
    const port = await freePort();
    const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1", maxConnections: 20 });
    await server.start();
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    return {
      store: createPgStore({ connectionString: url, poolSize: 4 }),
      second: async () => createPgStore({ connectionString: url, poolSize: 2 }),
      cleanup: async () => {
        await server.stop();
        await db.close();
      },
    };
  },
});
