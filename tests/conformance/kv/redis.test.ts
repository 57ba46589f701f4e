import { Redis } from "ioredis";
import { createRedisKv } from "../../../src/adapters/kv/redis/kv.ts";
import { redisUrl } from "../../harness/databases.ts";
import { kvConformance } from "./kv-suite.ts";

kvConformance({
  name: "Redis",
  open: async () => {
    const shared = new Redis(redisUrl(0));
    return {
      make: (prefix) => createRedisKv({ client: shared, keyPrefix: prefix }),
      // Its own connection, opened from the URL and quit on close.
      makeOther: (prefix) => createRedisKv({ url: redisUrl(0), keyPrefix: prefix }),
      cleanup: async () => {
        await shared.quit();
      },
    };
  },
});
