import { createPgStore } from "../../../src/adapters/store/pg/store.ts";
import { freshPostgresDatabase } from "../../harness/databases.ts";
import { storeConformance } from "./store-suite.ts";

// Debian's PostgreSQL has no pgvector package: the vector part runs on PGlite over the wire instead.
storeConformance({
  name: "PostgreSQL server (Debian)",
  vector: false,
  open: async () => {
    const url = await freshPostgresDatabase("store");
    return { store: createPgStore({ connectionString: url }), second: async () => createPgStore({ connectionString: url }) };
  },
});
