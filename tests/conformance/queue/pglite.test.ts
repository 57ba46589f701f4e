import { openPglite } from "../../../src/adapters/store/pglite/open.ts";
import { createQueueBackend } from "../../../src/adapters/queue/index.ts";
import { queueConformance } from "./queue-suite.ts";

queueConformance({
  name: "PGlite in-process",
  kind: "pglite",
  open: async () => {
    const db = await openPglite(undefined);
    return { backend: await createQueueBackend({ kind: "pglite", db }), cleanup: () => db.close() };
  },
});
