import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createSluice } from "../../src/sluice.ts";
import { runCli } from "../harness/cli.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { startTestSluice } from "../harness/sluice.ts";

describe("backup and restore of the embedded database", () => {
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
      file = join(mkdtempSync(join(tmpdir(), "sluice-bk-")), "b.tar.gz");
      writeFileSync(file, res.rawPayload);
      const audit = await t.sluice.audit.list({ action: "backup.download" });
      expect(audit).toHaveLength(1);
    } finally {
      await t.close();
    }
    const dataDir = mkdtempSync(join(tmpdir(), "sluice-restore-"));
    const restored = runCli(["restore", "--from", file], { SLUICE_DATA_DIR: dataDir });
    expect(restored.status, restored.stderr).toBe(0);
    const sluice = await createSluice({ env: { SLUICE_DATA_DIR: dataDir, LOG_LEVEL: "silent" } });
    try {
      expect((await sluice.intake.getWorkspace("ws-backup"))?.name).toBe("Kept");
    } finally {
      await sluice.close();
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
