import { openPglite } from "../../../src/adapters/store/pglite/open.ts";
import { createQueueBackend } from "../../../src/adapters/queue/index.ts";
import { queueConformance } from "./queue-suite.ts";
import { testPgliteDataDir } from "../../harness/pglite-template.ts";

queueConformance({
  name: "PGlite in-process",
  kind: "pglite",
  open: async () => {
    const db = await openPglite(testPgliteDataDir());
    return { backend: await createQueueBackend({ kind: "pglite", db }), cleanup: () => db.close() };
  },
});
