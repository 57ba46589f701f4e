import { createPostgresKv } from "../../../src/adapters/kv/postgres/kv.ts";
import { createPgStore } from "../../../src/adapters/store/pg/store.ts";
import { migrate } from "../../../src/pipeline/migrator.ts";
import { freshPostgresDatabase } from "../../harness/databases.ts";
import { kvConformance } from "./kv-suite.ts";

kvConformance({
  name: "PostgreSQL server (kv_entries)",
  open: async () => {
    const url = await freshPostgresDatabase("kv");
    const store = createPgStore({ connectionString: url, poolSize: 10 });
    await migrate(store, { requireVector: false });
    const other = createPgStore({ connectionString: url, poolSize: 5 });
    return {
      make: (prefix) => createPostgresKv({ store, keyPrefix: prefix }),
      makeOther: (prefix) => createPostgresKv({ store: other, keyPrefix: prefix }),
      cleanup: async () => {
        await other.close();
        await store.close();
      },
    };
  },
});
