import { createQueueBackend } from "../../../src/adapters/queue/index.ts";
import { freshPostgresDatabase } from "../../harness/databases.ts";
import { queueConformance } from "./queue-suite.ts";

queueConformance({
  name: "PostgreSQL server (Debian)",
  kind: "postgres",
  open: async () => ({
    backend: await createQueueBackend({ kind: "postgres", connectionString: await freshPostgresDatabase("queue"), concurrency: 10 }),
  }),
});
