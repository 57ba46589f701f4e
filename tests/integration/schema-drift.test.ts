import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import type { Store } from "../../src/ports/store.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";

/**
 * The schema the migrations build equals the committed dump (tests/fixtures/schema.txt), so a
 * migration that changes a table, a column or an index shows in review as a change of that file.
 * After an intended change: SLUICE_UPDATE_SCHEMA=1 npx vitest run tests/integration/schema-drift.test.ts
 */
const SNAPSHOT = new URL("../fixtures/schema.txt", import.meta.url);

async function dumpSchema(store: Store): Promise<string> {
  const columns = await store.query<{ line: string }>(
    `SELECT format('%s.%s %s%s%s', table_name, column_name, data_type,
                   CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END,
                   CASE WHEN column_default IS NOT NULL THEN ' default ' || column_default ELSE '' END) AS line
     FROM information_schema.columns WHERE table_schema = 'public'
     ORDER BY table_name, ordinal_position`,
  );
  const indexes = await store.query<{ line: string }>(
    `SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`,
  );
  const constraints = await store.query<{ line: string }>(
    `SELECT format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) AS line
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY conrelid::regclass::text, conname`,
  );
  const views = await store.query<{ line: string }>(
    `SELECT format('view %s', viewname) AS line FROM pg_views WHERE schemaname = 'public' ORDER BY viewname`,
  );
  return [...columns.rows, ...indexes.rows, ...constraints.rows, ...views.rows].map((r) => r.line).join("\n") + "\n";
}

describe("schema drift", () => {
  it("the migrated schema equals tests/fixtures/schema.txt", async () => {
    const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
    try {
      await migrate(store);
      const schema = await dumpSchema(store);
      if (process.env.SLUICE_UPDATE_SCHEMA === "1") writeFileSync(SNAPSHOT, schema);
      expect(schema.split("\n").length).toBeGreaterThan(100);
      expect(schema).toBe(readFileSync(SNAPSHOT, "utf8"));
    } finally {
      await store.close();
    }
  }, 120_000);
});
