import { createPgStore } from "../../../src/adapters/store/pg/store.ts";
import { servePgliteOnTheWire } from "../../harness/pglite-wire.ts";
import { storeConformance } from "./store-suite.ts";

// The network driver path (pg over TCP) meeting real pgvector: PGlite served on the wire protocol.
storeConformance({
  name: "PGlite over the wire (pg driver, pgvector)",
  vector: true,
  open: async () => {
    const wire = await servePgliteOnTheWire();
    return {
      store: createPgStore({ connectionString: wire.url, poolSize: 4 }),
      second: async () => createPgStore({ connectionString: wire.url, poolSize: 2 }),
      cleanup: () => wire.close(),
    };
  },
});
