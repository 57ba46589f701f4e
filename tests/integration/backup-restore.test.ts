import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createSluice } from "../../src/sluice.ts";
import { runCli } from "../harness/cli.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { seedPgliteDataDir } from "../harness/pglite-template.ts";
import { startTestSluice } from "../harness/sluice.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

// Several PGlite opens per test (two servers, CLI restores): minutes, not seconds, on a loaded 2-core machine.
describe("backup and restore of the embedded database", { timeout: 180_000 }, () => {
  it("downloads a live backup that `sluice restore` brings back into a new data folder", async () => {
    const t = await startTestSluice();
    let file: string;
    try {
      await t.sluice.intake.ensureWorkspace("ws-backup", "Kept");
      const key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-backup", scopes: ["operator"] })).secret;
      const res = await t.app.inject({ method: "GET", url: "/api/admin/backup", headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toBe("application/gzip");
      expect(res.rawPayload.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      file = join(fileTempDir("sluice-bk-"), "b.tar.gz");
      writeFileSync(file, res.rawPayload);
      const audit = await t.sluice.audit.list({ action: "backup.download" });
      expect(audit).toHaveLength(1);
    } finally {
      await t.close();
    }
    const dataDir = fileTempDir("sluice-restore-");
    const restored = runCli(["restore", "--from", file], { SLUICE_DATA_DIR: dataDir });
    expect(restored.status, restored.stderr).toBe(0);
    const sluice = await createSluice({ env: { SLUICE_DATA_DIR: dataDir, LOG_LEVEL: "silent" } });
    try {
      expect((await sluice.intake.getWorkspace("ws-backup"))?.name).toBe("Kept");
    } finally {
      await sluice.close();
    }
  });

  it("`sluice restore --table` brings back one table's rows and leaves the others as they are", async () => {
    const dataDir = fileTempDir("sluice-table-");
    seedPgliteDataDir(join(dataDir, "pgdata"));
    const env = { SLUICE_DATA_DIR: dataDir };
    let t = await startTestSluice(env);
    const file = join(dataDir, "..", `${dataDir.split("/").pop()}-b.tar.gz`);
    try {
      await t.sluice.audit.record({ actor: "ops", action: "drill.before", reason: "kept" });
      const key = (
        await t.sluice.intake.createApiKey({
          workspaceId: (await t.sluice.intake.ensureWorkspace("ws-ops", "Ops")).id,
          scopes: ["operator"],
        })
      ).secret;
      const res = await t.app.inject({ method: "GET", url: "/api/admin/backup", headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode).toBe(200);
      writeFileSync(file, res.rawPayload);
      // After the backup: one audit row too many (the accident), and a workspace that must survive.
      await t.sluice.audit.record({ actor: "ops", action: "drill.after" });
      await t.sluice.intake.ensureWorkspace("ws-new", "Made after the backup");
      const running = runCli(["restore", "--from", file, "--table", "action_audit"], env);
      expect(running.status).not.toBe(0);
      expect(running.stderr).toContain("DATA_DIR_LOCKED");
    } finally {
      await t.app.close();
      await t.sluice.close();
    }
    const unknown = runCli(["restore", "--from", file, "--table", "no_such_table"], env);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('No table "no_such_table"');
    const restored = runCli(["restore", "--from", file, "--table", "action_audit"], env);
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/Restored action_audit: \d+ rows/);
    expect(restored.stdout).toContain("before-restore-");

    t = await startTestSluice(env);
    try {
      const actions = (await t.sluice.audit.list({})).map((row) => row.action);
      expect(actions).toContain("drill.before");
      expect(actions).not.toContain("drill.after");
      expect((await t.sluice.intake.getWorkspace("ws-new"))?.name).toBe("Made after the backup");
      // The id sequence is past the restored rows: a new audit row is written, not refused.
      await t.sluice.audit.record({ actor: "ops", action: "drill.later" });
      expect((await t.sluice.audit.list({ action: "drill.later" })).length).toBe(1);
    } finally {
      await t.close();
    }
  });

  it("tells a PostgreSQL deployment to use pg_dump", async () => {
    const t = await startTestSluice({ DATABASE_URL: await freshPostgresDatabase("bk"), VECTOR_SEARCH_ENABLED: "false" });
    try {
      await t.sluice.intake.ensureWorkspace("ws", "WS");
      const key = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["operator"] })).secret;
      const res = await t.app.inject({ method: "GET", url: "/api/admin/backup", headers: { authorization: `Bearer ${key}` } });
      expect(res.statusCode).toBe(409);
      expect(res.json().error.message).toContain("pg_dump");
    } finally {
      await t.close();
    }
  });
});
