import { copyFileSync, readdirSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgliteStore } from "../../src/adapters/store/pglite/store.ts";
import { migrate } from "../../src/pipeline/migrator.ts";
import { runCliAsync } from "../harness/cli.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { testPgliteDataDir } from "../harness/pglite-template.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

const MIGRATIONS = fileURLToPath(new URL("../../migrations/", import.meta.url));

describe("upgrading to the operator scope (migration 0009)", () => {
  it("gives operator to every key that held admin, and to no other key", async () => {
    // A database as a Sluice before 0009 left it: migrations up to 0008, keys minted then.
    const before = fileTempDir("sluice-migrations-");
    for (const file of readdirSync(MIGRATIONS).filter((f) => /^000[1-8]_/.test(f)))
      copyFileSync(join(MIGRATIONS, file), join(before, file));
    const store = await createPgliteStore({ dataDir: testPgliteDataDir() });
    try {
      await migrate(store, { directory: before });
      await store.query("INSERT INTO workspaces (id, name) VALUES ('ws-1', 'one')");
      const keys: Array<[string, string[]]> = [
        ["k-admin", ["admin"]],
        ["k-admin-jobs", ["jobs:read", "admin"]],
        ["k-reader", ["jobs:read"]],
        ["k-writer", ["jobs:write", "jobs:read"]],
      ];
      for (const [id, scopes] of keys)
        await store.query("INSERT INTO api_keys (id, workspace_id, key_hash, prefix, scopes) VALUES ($1, 'ws-1', $1, 'sk_sluice_x', $2)", [
          id,
          scopes,
        ]);

      const result = await migrate(store);
      expect(result.applied).toContain("0009_operator_scope");
      const { rows } = await store.query<{ id: string; scopes: string[] }>("SELECT id, scopes FROM api_keys ORDER BY id");
      expect(Object.fromEntries(rows.map((r) => [r.id, r.scopes]))).toEqual({
        "k-admin": ["admin", "operator"],
        "k-admin-jobs": ["jobs:read", "admin", "operator"],
        "k-reader": ["jobs:read"],
        "k-writer": ["jobs:write", "jobs:read"],
      });
    } finally {
      await store.close();
      rmSync(before, { recursive: true, force: true });
    }
  });
});

describe("the runbook's keys: an operator mints a workspace admin, which keys its own workspace only", () => {
  let t: TestSluice;
  let env: Record<string, string>;
  const keyOf = (stdout: string) => stdout.split("\n").find((line) => line.startsWith("sk_sluice_")) ?? "";

  beforeAll(async () => {
    t = await startTestSluice();
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    await t.sluice.intake.ensureWorkspace("ws-other", "Other");
    const operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    env = { SLUICE_URL: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`, SLUICE_API_KEY: operator };
  });
  afterAll(async () => {
    await t?.close();
  });

  it("mints, lists and refuses as docs/runbook.md says", async () => {
    const admin = await runCliAsync(["keys", "create", "--workspace", "ws-123", "--scopes", "admin"], env);
    expect(admin.status, admin.stderr).toBe(0);
    expect(admin.stdout).toContain("for workspace ws-123 with scopes admin.");
    const wsAdmin = { ...env, SLUICE_API_KEY: keyOf(admin.stdout) };

    const jobsKey = await runCliAsync(["keys", "create", "--workspace", "ws-123", "--scopes", "jobs:write,jobs:read"], wsAdmin);
    expect(jobsKey.status, jobsKey.stderr).toBe(0);
    const listed = await runCliAsync(["keys", "list"], wsAdmin);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain("ws-123");
    expect(listed.stdout).not.toMatch(/\bops\b|ws-other/);

    const elsewhere = await runCliAsync(["keys", "create", "--workspace", "ws-other", "--scopes", "jobs:read"], wsAdmin);
    expect(elsewhere.status).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/NOT_FOUND|FORBIDDEN_SCOPE/);
    const stronger = await runCliAsync(["keys", "create", "--workspace", "ws-123", "--scopes", "operator"], wsAdmin);
    expect(stronger.status).not.toBe(0);
    expect(stronger.stderr).toContain("FORBIDDEN_SCOPE");
    const fleet = await runCliAsync(["queues"], wsAdmin);
    expect(fleet.status).not.toBe(0);
    expect(fleet.stderr).toContain("FORBIDDEN_SCOPE");

    // What the workspace admin could not do, the operator can.
    const byOperator = await runCliAsync(["keys", "create", "--workspace", "ws-other", "--scopes", "admin"], env);
    expect(byOperator.status, byOperator.stderr).toBe(0);
    expect((await runCliAsync(["queues"], env)).status).toBe(0);
    const keys = await t.sluice.intake.listApiKeys("ws-123");
    expect(keys.map((k) => k.scopes.join(",")).sort()).toEqual(["admin", "jobs:read,jobs:write"]);
  });
});
