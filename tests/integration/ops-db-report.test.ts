import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbReport } from "../../src/pipeline/ops/db-report.ts";
import { runCliAsync } from "../harness/cli.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/** `sluice db report` (seed 004 §4.1, §5.3) against a real server on each engine. */
describe.each(embeddedAndServers("ops_db", 30))("sluice db report on $name", (engine) => {
  let t: TestSluice;
  let env: Record<string, string>;
  let operator: string;

  beforeAll(async () => {
    t = await startTestSluice(await engine.env());
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    const address = await t.app.listen({ port: 0, host: "127.0.0.1" });
    env = { SLUICE_URL: address, SLUICE_API_KEY: operator };
  });
  afterAll(async () => {
    await t.close();
  });

  it("reports index usage under pg_stat_user_indexes' real column names; the seed's names do not exist there", async () => {
    const seeds = t.sluice.store.query(
      "SELECT schemaname, tablename, indexname, idx_scan FROM pg_stat_user_indexes ORDER BY idx_scan ASC LIMIT 20",
    );
    await expect(seeds).rejects.toThrow(/column "tablename" does not exist/);
    // An index lookup, so workspaces_pkey has a scan to count (the server's statistics arrive within a second or so).
    await t.sluice.store.query("SELECT id FROM workspaces WHERE id = $1", ["ops"]);
    let report: DbReport | undefined;
    for (let i = 0; i < 40; i++) {
      const result = await runCliAsync(["db", "report", "--limit", "500", "--json"], env);
      expect(result.status, result.stderr).toBe(0);
      report = JSON.parse(result.stdout) as DbReport;
      if ((report.index_usage.find((r) => r.indexrelname === "workspaces_pkey")?.idx_scan ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(report?.engine).toBe(t.sluice.store.kind);
    expect(report?.index_usage.find((r) => r.indexrelname === "workspaces_pkey")).toMatchObject({
      schemaname: "public",
      relname: "workspaces",
    });
    expect(report?.index_usage.find((r) => r.indexrelname === "workspaces_pkey")?.idx_scan).toBeGreaterThan(0);
    expect(report?.index_usage.map((r) => r.indexrelname)).toContain("action_audit_created_idx");
    expect(report?.table_sizes.map((r) => r.relname)).toContain("action_audit");
    expect(report?.slow_queries).toMatchObject({ available: false, rows: [] });
    expect(report?.slow_queries.note).toContain("pg_stat_statements is not installed");
  });

  it("prints the sections as tables", async () => {
    const result = await runCliAsync(["db", "report"], env);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Database: ${t.sluice.store.kind}`);
    expect(result.stdout).toMatch(/^SCHEMANAME\s+RELNAME\s+INDEXRELNAME\s+IDX_SCAN\s+SIZE$/m);
    expect(result.stdout).toContain("pg_stat_statements is not installed");
  });

  it("refuses keys without the operator scope and bad parameters", async () => {
    const admin = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["admin"] })).secret;
    const forbidden = await t.app.inject({ method: "GET", url: "/api/admin/db/report", headers: { authorization: `Bearer ${admin}` } });
    expect(forbidden.statusCode).toBe(403);
    const bad = await t.app.inject({
      method: "GET",
      url: "/api/admin/db/report?limit=0",
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
  });

  it.runIf(engine.name !== "embedded PGlite")("says why when pg_stat_statements is created but not preloaded", async () => {
    await t.sluice.store.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    const result = await runCliAsync(["db", "report", "--json"], env);
    const report = JSON.parse(result.stdout) as DbReport;
    expect(report.slow_queries.available).toBe(false);
    expect(report.slow_queries.note).toMatch(/installed but cannot be read: .*shared_preload_libraries/);
  });
});
