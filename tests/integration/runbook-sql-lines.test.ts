import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { runRunbookLine } from "../harness/runbook.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * Every whole `sluice sql "…"` line written inline in docs/runbook.md (those with real SQL, not
 * "…"), run as written by bash against a PostgreSQL database Sluice has migrated: each must exit 0
 * and print a result naming the columns it selects. A renamed column or table, or a CLI that does
 * not take the SQL as its argument, fails here. Uses no Redis (PostgreSQL queues).
 */
const RUNBOOK = new URL("../../docs/runbook.md", import.meta.url);
const sqlLines = [...readFileSync(RUNBOOK, "utf8").matchAll(/`(sluice sql [^`]*)`/g)]
  .map((m) => m[1] ?? "")
  .filter((line) => !line.includes("…"));

/** The column names a `SELECT a, b FROM` names (none for `SELECT *`). */
const selectedColumns = (line: string): string[] =>
  (/SELECT (.+?) FROM/.exec(line)?.[1] ?? "*")
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "*");

describe('the runbook\'s inline `sluice sql "…"` lines run as written', () => {
  let t: TestSluice;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await freshPostgresDatabase("runbook_sql");
    t = await startTestSluice({ DATABASE_URL: databaseUrl, QUEUE_BACKEND: "postgres", VECTOR_SEARCH_ENABLED: "false" });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("finds the lines (three at least: audit, pipeline events, action.unknown tasks per attempt)", () => {
    expect(sqlLines.length).toBeGreaterThanOrEqual(3);
    expect(sqlLines.some((l) => l.includes("FROM approval_tasks WHERE run_id = '<run>'"))).toBe(true);
  });

  it.each(sqlLines)("%s", async (line) => {
    const result = await runRunbookLine(line, { run: "run-that-does-not-exist" }, { DATABASE_URL: databaseUrl });
    expect(result.status, result.stderr).toBe(0);
    const [header = "", rule = ""] = result.stdout.split("\n");
    expect(header.split("|").map((c) => c.trim())).toEqual(expect.arrayContaining(selectedColumns(line)));
    expect(rule).toMatch(/^-[-+]+$/);
    expect(result.stdout).toMatch(/\(\d+ rows?\)\n$/);
  });
});
