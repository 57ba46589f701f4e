import { freshPostgresDatabase } from "../../harness/databases.ts";
import { runsConformance } from "./runs-suite.ts";

runsConformance({
  name: "PostgreSQL (store and queues)",
  env: async () => ({ DATABASE_URL: await freshPostgresDatabase("runs"), QUEUE_BACKEND: "postgres", VECTOR_SEARCH_ENABLED: "false" }),
});
