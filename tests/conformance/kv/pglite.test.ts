import { describe, expect, it } from "vitest";
import { createPostgresKv } from "../../../src/adapters/kv/postgres/kv.ts";
import { createPgliteStore } from "../../../src/adapters/store/pglite/store.ts";
import { migrate } from "../../../src/pipeline/migrator.ts";
import { kvConformance } from "./kv-suite.ts";
import { testPgliteDataDir } from "../../harness/pglite-template.ts";

kvConformance({
  name: "PGlite (kv_entries)",
  open: async () => {
    const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
    await migrate(store);
    return {
      make: (prefix) => createPostgresKv({ store, keyPrefix: prefix }),
      cleanup: () => store.close(),
    };
  },
});

// Adapter-specific: expired rows are reclaimed, by an explicit sweep or one that a write starts.
describe("SQL Kv sweeping", () => {
  it("sweeps expired rows lazily without touching live ones", async () => {
    const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
    await migrate(store);
    const kv = createPostgresKv({ store, sweepIntervalMs: 0 });
    try {
      await kv.set("gone", "x", { ttlSeconds: 1 });
      await kv.set("live", "x", { ttlSeconds: 600 });
      await kv.set("forever", "x");
      await store.query("UPDATE kv_entries SET expires_at = now() - interval '1 second' WHERE key = 'gone'");
      const rows = async () => (await store.query<{ key: string }>("SELECT key FROM kv_entries ORDER BY key")).rows.map((r) => r.key);
      expect(await rows()).toEqual(["forever", "gone", "live"]);
      // The write starts a background sweep (interval 0); close() waits for it.
      await kv.set("trigger", "x");
      await kv.close();
      expect(await rows()).toEqual(["forever", "live", "trigger"]);
      expect(await kv.sweepExpired()).toBe(0);
    } finally {
      await store.close();
    }
  });
});
