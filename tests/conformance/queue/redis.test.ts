import { inject } from "vitest";
import { createQueueBackend } from "../../../src/adapters/queue/index.ts";
import { queueConformance } from "./queue-suite.ts";

let opened = 0;
queueConformance({
  name: "Redis (Debian redis-server)",
  kind: "redis",
  // The run shares one Redis: a key prefix per opened backend keeps files and suites apart.
  open: async () => {
    opened += 1;
    return { backend: await createQueueBackend({ kind: "redis", url: inject("redisUrl"), prefix: `qc-${process.pid}-${opened}` }) };
  },
});
