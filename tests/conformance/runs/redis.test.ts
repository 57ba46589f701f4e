import { freshPostgresDatabase, redisUrl } from "../../harness/databases.ts";
import { runsConformance } from "./runs-suite.ts";

// Redis logical database 16 is this file's alone (tests/harness/databases.ts).
runsConformance({
  name: "Redis queues + PostgreSQL store",
  env: async () => ({
    DATABASE_URL: await freshPostgresDatabase("runs"),
    REDIS_URL: redisUrl(16),
    QUEUE_BACKEND: "redis",
    VECTOR_SEARCH_ENABLED: "false",
  }),
});
