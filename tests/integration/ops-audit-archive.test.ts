import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync } from "../harness/cli.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

const DAY = 86_400_000;

/** `sluice audit archive` and its scheduled default (seed 001 "Archive old audit logs (> 90 days)") on each engine. */
describe.each(embeddedAndServers("ops_audit", 31))("audit archive on $name", (engine) => {
  let t: TestSluice;
  let env: Record<string, string>;
  let operator: string;

  async function auditRowAged(action: string, ageMs: number): Promise<number> {
    const { rows } = await t.sluice.store.query<{ id: number }>(
      "INSERT INTO action_audit (actor, action, workspace_id, target, details, created_at) VALUES ('test', $1, 'ops', 't', '{\"k\":1}'::jsonb, $2) RETURNING id",
      [action, new Date(Date.now() - ageMs)],
    );
    return rows[0]?.id ?? 0;
  }
  const idsIn = async (table: string, action: string) =>
    (await t.sluice.store.query<{ id: number }>(`SELECT id FROM ${table} WHERE action = $1 ORDER BY id`, [action])).rows.map((r) => r.id);

  beforeAll(async () => {
    t = await startTestSluice({ ...(await engine.env()), AUDIT_RETENTION_DAYS: "30", AUDIT_ARCHIVE_INTERVAL_MS: "1000" });
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    env = { SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }), SLUICE_API_KEY: operator };
  });
  afterAll(async () => {
    await t.close();
  });

  it("moves rows older than 90 days to action_audit_archive and a JSONL file, batch by batch, audited", async () => {
    const old: number[] = [];
    for (let i = 0; i < 5; i++) old.push(await auditRowAged("test.old", 100 * DAY + i * 1000));
    const recent = [await auditRowAged("test.recent", 10 * DAY), await auditRowAged("test.recent", 89 * DAY)];
    const file = join(fileTempDir("sluice-audit-"), "audit.jsonl");
    const result = await runCliAsync(
      ["audit", "archive", "--older-than", "90d", "--file", file, "--batch", "2", "--reason", "retention drill"],
      env,
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Archived 5 audit row\(s\) created before \S+ to action_audit_archive and .*audit\.jsonl\.$/m);
    expect(await idsIn("action_audit", "test.old")).toEqual([]);
    expect(await idsIn("action_audit_archive", "test.old")).toEqual(old);
    expect(await idsIn("action_audit", "test.recent")).toEqual(recent);
    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { id: number; action: string; details: unknown });
    expect(lines.map((l) => l.id)).toEqual(old);
    expect(lines[0]).toMatchObject({ action: "test.old", actor: "test", workspace_id: "ops", details: { k: 1 } });
    const runs = await t.sluice.audit.list({ action: "audit.archive" });
    expect(runs.map((r) => r.details.archived)).toEqual([1, 2, 2]);
    expect(runs[0]).toMatchObject({ reason: "retention drill", details: { outcome: "succeeded", to_table: true } });
  });

  it("keeps rows in the file only with --no-table, and refuses to delete rows it would keep nowhere", async () => {
    const id = await auditRowAged("test.file-only", 200 * DAY);
    const refused = await runCliAsync(["audit", "archive", "--older-than", "90d", "--no-table"], env);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("--no-table deletes the rows");
    const api = await t.app.inject({
      method: "POST",
      url: "/api/admin/audit/archive",
      headers: { authorization: `Bearer ${operator}` },
      payload: { table: false },
    });
    expect(api.statusCode).toBe(400);
    expect(api.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
    const bad = await t.app.inject({
      method: "POST",
      url: "/api/admin/audit/archive",
      headers: { authorization: `Bearer ${operator}` },
      payload: { older_than: "ninety days" },
    });
    expect(bad.statusCode).toBe(400);
    expect(await idsIn("action_audit", "test.file-only")).toEqual([id]);
    const file = join(fileTempDir("sluice-audit-"), "only.jsonl");
    const moved = await runCliAsync(["audit", "archive", "--older-than", "90d", "--no-table", "--file", file], env);
    expect(moved.status, moved.stderr).toBe(0);
    expect(await idsIn("action_audit", "test.file-only")).toEqual([]);
    expect(await idsIn("action_audit_archive", "test.file-only")).toEqual([]);
    expect(readFileSync(file, "utf8")).toContain(`"id":${id},`);
  });

  it("runs by itself on the schedule (AUDIT_RETENTION_DAYS=30, every AUDIT_ARCHIVE_INTERVAL_MS)", async () => {
    const stale = await auditRowAged("test.scheduled", 31 * DAY);
    const fresh = await auditRowAged("test.scheduled", 29 * DAY);
    await t.sluice.startWorkers();
    const deadline = Date.now() + 30_000;
    while ((await idsIn("action_audit_archive", "test.scheduled")).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 250));
    expect(await idsIn("action_audit_archive", "test.scheduled")).toEqual([stale]);
    expect(await idsIn("action_audit", "test.scheduled")).toEqual([fresh]);
    // The audit row is completed just after the move commits.
    const scheduledRuns = async () =>
      (await t.sluice.audit.list({ action: "audit.archive" })).filter((r) => r.actor === "system:audit-retention");
    while (!(await scheduledRuns()).some((r) => r.details.outcome === "succeeded") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const runs = await scheduledRuns();
    // This row and the first test's 89-day-old one: both past 30 days.
    expect(runs.map((r) => r.details.archived)).toEqual([2]);
    expect((await idsIn("action_audit", "test.recent")).length).toBe(1);
    expect(runs[0]).toMatchObject({ reason: "AUDIT_RETENTION_DAYS=30" });
  });
});
