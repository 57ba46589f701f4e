import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { redisUrl } from "../harness/databases.ts";
import { uniqueName } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

/**
 * docs/runbook.md "Restore chosen tables" on the PostgreSQL engine: the row's own command lines
 * (pg_dump -Fc, the psql that empties the tables, pg_restore --data-only -t …), read from the
 * runbook and run by bash as an operator would, against a harness PostgreSQL holding Sluice's
 * schema and data, as the role Sluice itself uses: the database's owner, not a superuser. The chosen tables come back as they were at the dump; other tables keep their
 * later changes. Redis logical database 57.
 */
const run = promisify(execFile);
const RUNBOOK = new URL("../../docs/runbook.md", import.meta.url);

/** A database owned by a new role without superuser rights (the server trusts loopback logins), as its URL. */
async function ownedDatabase(): Promise<string> {
  const name = uniqueName("pgrestore");
  const server = new pg.Client({ connectionString: inject("postgresUrl") });
  await server.connect();
  try {
    await server.query(`CREATE ROLE "${name}" LOGIN NOSUPERUSER`);
    await server.query(`CREATE DATABASE "${name}" OWNER "${name}"`);
  } finally {
    await server.end();
  }
  const url = new URL(inject("postgresUrl"));
  url.username = name;
  url.password = "";
  url.pathname = `/${name}`;
  return url.toString();
}

/** The backticked pg_dump, psql and pg_restore command lines (those naming $DATABASE_URL) of the runbook's PostgreSQL row of "Restore chosen tables". */
function documentedLines(): { dump: string; empty: string; restore: string } {
  const text = readFileSync(RUNBOOK, "utf8");
  const section = text.slice(text.indexOf("### Restore chosen tables"));
  const row = section.split("\n").find((line) => line.startsWith("| PostgreSQL server |")) ?? "";
  const lines = [...row.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "").filter((l) => /^(pg_dump|pg_restore|psql) .*\$DATABASE_URL/.test(l));
  const pick = (tool: string) => {
    const found = lines.filter((l) => l.startsWith(`${tool} `));
    expect(found, `${tool} in the runbook row`).toHaveLength(1);
    return found[0] ?? "";
  };
  return { dump: pick("pg_dump"), empty: pick("psql"), restore: pick("pg_restore") };
}

describe("runbook: restore chosen tables with pg_dump -Fc and pg_restore --data-only -t", () => {
  let t: TestSluice;
  let databaseUrl: string;
  let admin: string;
  let operator: string;
  let folder: string;

  const shell = (line: string) => run("bash", ["-c", line], { cwd: folder, env: { ...process.env, DATABASE_URL: databaseUrl } });
  const call = async (key: string, url: string, payload: object) => {
    const res = await t.app.inject({ method: "POST", url, headers: { authorization: `Bearer ${key}` }, payload });
    expect(res.statusCode, res.body).toBeLessThan(300);
    return res.json<{ id: string }>();
  };
  const rows = async (sql: string) => (await t.sluice.store.query<Record<string, unknown>>(sql)).rows;
  const snapshot = async () => ({
    entities: await rows("SELECT workspace, pipeline, entity_key, state, updated_at FROM entity_states ORDER BY entity_key"),
    approvals: await rows("SELECT * FROM approval_tasks ORDER BY id"),
  });

  beforeAll(async () => {
    folder = fileTempDir("sluice-pg-restore-");
    databaseUrl = await ownedDatabase();
    t = await startTestSluice({ DATABASE_URL: databaseUrl, REDIS_URL: redisUrl(57), VECTOR_SEARCH_ENABLED: "false" });
    t.sluice.pipeline(
      definePipeline(
        { name: "nurture", input: z.object({ state: z.string() }), transitions: { active: ["at_risk"], at_risk: ["active", "churned"] } },
        async (input, step) => {
          await step.setState(input.state, "scored");
        },
      ),
    );
    await t.sluice.startWorkers();
    await t.sluice.intake.ensureWorkspace("acme", "Acme");
    admin = (await t.sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["admin", "jobs:write", "jobs:read"] })).secret;
    operator = (await t.sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["operator"] })).secret;
  });
  afterAll(async () => {
    await t?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("runs the documented lines: the two tables are back as dumped, the rest untouched", async () => {
    for (const client of ["client-1", "client-2"]) {
      const { id } = await call(admin, "/api/pipelines/nurture/runs", { input: { state: "active" }, entity_key: client });
      await t.app.inject({ method: "GET", url: `/api/runs/${id}?wait=20`, headers: { authorization: `Bearer ${admin}` } });
    }
    const tasks = [await call(admin, "/api/approvals", { approval_type: "kyc", payload: { client: "client-1" } })];
    tasks.push(await call(admin, "/api/approvals", { approval_type: "kyc", payload: { client: "client-2" } }));
    const before = await snapshot();
    expect(before.entities.map((e) => e.state)).toEqual(["active", "active"]);
    expect(before.approvals.map((a) => a.status)).toEqual(["pending", "pending"]);

    const lines = documentedLines();
    await shell(lines.dump);

    // The incident: states forced wrongly, a task decided by mistake, one opened since; and a change elsewhere to keep.
    await call(operator, "/api/entities/nurture/client-1/state", { state: "churned", reason: "mistake", bypass_rules: true });
    await call(admin, `/api/approvals/${tasks[0]?.id}/approve`, { reason: "mistake" });
    await call(admin, "/api/approvals", { approval_type: "kyc", payload: { client: "client-3" } });
    await t.sluice.intake.ensureWorkspace("globex", "Globex");
    expect(await snapshot()).not.toEqual(before);

    await shell(lines.empty);
    const restore = await shell(lines.restore);
    expect(restore.stderr).toBe("");

    expect(await snapshot()).toEqual(before);
    expect((await rows("SELECT id FROM workspaces ORDER BY id")).map((w) => w.id)).toEqual(["acme", "globex"]);
    // The history table was not restored: it still holds the mistaken transition, as the runbook warns.
    expect(
      (await rows("SELECT to_state FROM entity_transitions WHERE entity_key = 'client-1' ORDER BY id")).map((r) => r.to_state),
    ).toContain("churned");
  });
});
