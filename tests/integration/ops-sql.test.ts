import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, SLUICE_BIN, startDev, type DevServer } from "../harness/cli.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { seedPgliteDataDir } from "../harness/pglite-template.ts";
import { freePort } from "../harness/servers.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

/** The seeds' SQL, verbatim, through `sluice sql -c` on each engine. */
const SEED_000 = [
  "SELECT shop_id, status, COUNT(*) AS count FROM shop_product_embeddings GROUP BY shop_id, status ORDER BY count DESC;",
  "SELECT id, shop_id, status, total_items, completed_items, now() - submitted_at AS age FROM embedding_batches WHERE status IN ('submitted', 'processing') AND submitted_at < now() - interval '2 hours';",
  "SELECT shop_id, COUNT(*) AS pending FROM shop_product_embeddings WHERE status = 'pending' GROUP BY shop_id ORDER BY pending DESC LIMIT 10;",
  "SELECT error_message, COUNT(*) AS count FROM shop_product_embeddings WHERE status = 'failed' AND updated_at > now() - interval '1 hour' GROUP BY error_message ORDER BY count DESC;",
];
const SEED_003_004 = [
  "SELECT pid, now() - pg_stat_activity.query_start AS duration, query FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%ST_%' ORDER BY duration DESC LIMIT 5",
  "SELECT 1;",
  "SELECT version();",
  "SELECT count(*) FROM pg_stat_activity;",
  "SELECT state, count(*) FROM pg_stat_activity GROUP BY state;",
  "SELECT schemaname, tablename, pg_size_pretty(pg_total_relation_size(schemaname||'.'||tablename)) AS size FROM pg_tables WHERE schemaname = 'public' ORDER BY pg_total_relation_size(schemaname||'.'||tablename) DESC;",
  "SELECT * FROM pg_stat_all_tables WHERE idx_scan = 0 AND seq_scan > 0;",
  "ANALYZE;",
  "SELECT created_at, actor, action, target FROM action_audit WHERE created_at > now() - interval '1 day' ORDER BY id DESC LIMIT 50;",
];

/** The seed's statements as one script, each ended by `;` (003's psql -c lines have none). */
const script = (statements: string[]) => statements.map((sql) => sql.replace(/;?\s*$/, ";")).join("\n");

function expectRuns(env: Record<string, string>, cwd: string | undefined, sql: string): string {
  const result = runCli(["sql", "-c", sql], env, cwd);
  expect(result.status, `${sql}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

describe("sluice sql on a running embedded Sluice (SLUICE_SQL_PORT)", () => {
  let dev: DevServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    const port = await freePort();
    env = { SLUICE_SQL_PORT: String(port), SLUICE_SQL_PASSWORD: "operator-secret-1" };
    dev = await startDev(env);
  });
  afterAll(async () => {
    await dev.stop();
  });

  it("runs seed 000, 003 and 004 SQL verbatim while Sluice keeps serving", async () => {
    const backlog = expectRuns(env, dev.cwd, SEED_000[0] ?? "");
    expect(backlog).toMatch(/^ shop_id \| status \| count$/m);
    // Each seed's statements in one call (psql -c takes several too): one CLI start per seed, not per query.
    expect(expectRuns(env, dev.cwd, script(SEED_000))).toMatch(/^ shop_id \| pending$/m);
    expect(expectRuns(env, dev.cwd, script(SEED_003_004))).toMatch(/^ schemaname \| tablename +\| size\n[\s\S]*action_audit/m);
    expect(expectRuns(env, dev.cwd, "SELECT version();")).toContain("PGlite");
    expect(expectRuns(env, dev.cwd, "SELECT 1;")).toBe(" ?column?\n----------\n 1\n(1 row)\n");
    // Seed 000's "Reindex produse failed": a write of one statement goes through and commits.
    expect(
      expectRuns(
        env,
        dev.cwd,
        "UPDATE shop_product_embeddings SET status = 'pending', retry_count = 0 WHERE status = 'failed' AND retry_count < 3;",
      ),
    ).toBe("UPDATE 0\n");
    const ready = await fetch(`${dev.url}/ready`);
    expect(ready.status).toBe(200);
  });

  it("refuses a wrong password and the session commands that would hold Sluice's one session", () => {
    const wrong = runCli(["sql", "-c", "SELECT 1"], { ...env, SLUICE_SQL_PASSWORD: "not-the-password" }, dev.cwd);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("28P01");
    const count = "SELECT count(*) AS n FROM workspaces;";
    const before = expectRuns(env, dev.cwd, count);
    expect(before).toMatch(/^ [1-9]\d*$/m);
    const begin = runCli(["sql", "-c", `BEGIN; DELETE FROM api_keys; DELETE FROM workspaces;`], env, dev.cwd);
    expect(begin.status).toBe(1);
    expect(begin.stderr).toMatch(/ERROR 0A000: BEGIN is refused/);
    expect(expectRuns(env, dev.cwd, count)).toBe(before);
    expect(runCli(["sql", "-c", "SET statement_timeout = 0"], env, dev.cwd).stderr).toMatch(/ERROR 0A000: SET is refused/);
  });

  it("opens psql on the socket when there is no -c (here fed from stdin)", () => {
    const psql = spawnSync(process.execPath, [SLUICE_BIN, "sql"], {
      cwd: dev.cwd,
      env: { ...process.env, ...env, LOG_LEVEL: "warn" },
      input: "SELECT count(*) AS workspaces FROM workspaces;\n",
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(psql.status, psql.stderr).toBe(0);
    expect(psql.stdout).toMatch(/workspaces\s*\n-+\s*\n\s*\d+\s*\n\(1 row\)/);
  });
});

describe("sluice sql on a stopped embedded Sluice: the data folder itself", () => {
  it("runs the seed SQL on the folder and leaves it closed", () => {
    const cwd = fileTempDir("sluice-sql-offline-");
    seedPgliteDataDir(join(cwd, ".sluice", "pgdata"));
    expect(runCli(["migrate"], {}, cwd).status).toBe(0);
    expect(expectRuns({}, cwd, script(SEED_000))).toMatch(/^ error_message \| count\n-+\+-+\n\(0 rows\)$/m);
    expect(expectRuns({}, cwd, "SELECT count(*) AS n FROM sluice_migrations;")).toMatch(/^ n\n-+\n \d+\n\(1 row\)\n$/);
    // A SLUICE_SQL_PORT where nothing listens (Sluice stopped): the folder is opened instead.
    expect(expectRuns({ SLUICE_SQL_PORT: "1", SLUICE_SQL_PASSWORD: "operator-secret-1" }, cwd, "SELECT 2 AS two;")).toContain(" 2\n");
    expect(existsSync(join(cwd, ".sluice", "pgdata", "sluice.pid"))).toBe(false);
  }, 240_000);
});

describe("sluice sql on PostgreSQL (DATABASE_URL)", () => {
  let env: Record<string, string>;
  beforeAll(async () => {
    env = { DATABASE_URL: await freshPostgresDatabase("ops_sql"), VECTOR_SEARCH_ENABLED: "false" };
    const migrated = runCli(["migrate"], env);
    expect(migrated.status, migrated.stderr).toBe(0);
  });

  it("runs seed 003 and 004 SQL verbatim, and reports SQL errors with their SQLSTATE", () => {
    expect(expectRuns(env, undefined, script(SEED_003_004))).toMatch(/^ schemaname \| tablename +\| size\n[\s\S]*action_audit/m);
    expect(expectRuns(env, undefined, "SELECT version();")).toMatch(/PostgreSQL \d+/);
    expect(expectRuns(env, undefined, "VACUUM ANALYZE action_audit;")).toBe("VACUUM\n");
    const bad = runCli(["sql", "-c", "SELECT * FROM no_such_table"], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("ERROR 42P01");
  });

  it("prints JSON rows with --json", () => {
    const json = runCli(["sql", "--json", "-c", "SELECT 1 AS one, 'x' AS two; SELECT 2 AS three"], env);
    expect(json.status, json.stderr).toBe(0);
    expect(json.stdout).toBe('[{"one":"1","two":"x"}]\n[{"three":"2"}]\n');
  });
});
