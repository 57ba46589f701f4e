import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedisKv } from "../../src/adapters/kv/redis/kv.ts";
import { runCli, runCliAsync, SLUICE_BIN, startDev } from "../harness/cli.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

/** Issue 11's small operator items: exit codes, a closed stdout, workspaces set, a bodiless cache warm-up, the Redis command timeout, the dev key. */
describe("the sluice CLI's exit codes (docs/runbook.md)", () => {
  it("0 done, 1 refused or failed, 2 server unreachable, 78 bad configuration", () => {
    expect(runCli(["--version"]).status).toBe(0);
    const unreachable = runCli(["status", "--url", "http://127.0.0.1:1"]);
    expect(unreachable.status).toBe(2);
    expect(unreachable.stderr).toContain("UNREACHABLE");
    const badConfig = runCli(["sql", "-c", "SELECT 1"], { DATABASE_URL: "mysql://nope" });
    expect(badConfig.status).toBe(78);
    expect(badConfig.stderr).toContain("CONFIG_INVALID");
    expect(runCli(["workspaces", "set"]).status).toBe(1);
  });
});

describe("operator commands against a server on PostgreSQL + Redis", () => {
  let t: TestSluice;
  let env: Record<string, string>;
  let operator: string;
  let serverEnv: Record<string, string>;
  const warmFile = join(fileTempDir("sluice-warm-"), "warm.json");

  beforeAll(async () => {
    writeFileSync(
      warmFile,
      JSON.stringify([
        { type: "classify", input: { text: "Great service, thank you" } },
        { type: "embed", input: { texts: ["red shoes"] } },
      ]),
    );
    serverEnv = {
      DATABASE_URL: await freshPostgresDatabase("ops_cli"),
      REDIS_URL: redisUrl(30),
      VECTOR_SEARCH_ENABLED: "false",
      REDIS_COMMAND_TIMEOUT_MS: "1234",
      CACHE_WARM_DEFAULT: warmFile,
    };
    t = await startTestSluice(serverEnv);
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    await t.sluice.intake.ensureWorkspace("ws-123", "Shop");
    operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    env = { SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }), SLUICE_API_KEY: operator };
  });
  afterAll(async () => {
    await t.close();
  });

  it("sluice workspaces set changes a workspace's rate limit, audited; back to the default with 'default'", async () => {
    const set = await runCliAsync(["workspaces", "set", "ws-123", "--rate-limit", "7", "--reason", "noisy tenant"], env);
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^ws-123\s+Shop\s+7$/m);
    expect((await t.sluice.intake.getWorkspace("ws-123"))?.rateLimitPerMinute).toBe(7);
    const audit = await t.sluice.audit.list({ workspaceId: "ws-123" });
    expect(audit[0]).toMatchObject({ reason: "noisy tenant" });
    expect((await runCliAsync(["workspaces", "set", "ws-123", "--rate-limit", "default"], env)).status).toBe(0);
    expect((await t.sluice.intake.getWorkspace("ws-123"))?.rateLimitPerMinute ?? null).toBeNull();
    const missing = await runCliAsync(["workspaces", "set", "no-such-ws", "--rate-limit", "5"], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND/);
    const nothing = await runCliAsync(["workspaces", "set", "ws-123"], env);
    expect(nothing.status).toBe(1);
    expect(nothing.stderr).toContain("nothing to change");
    const listed = await runCliAsync(["workspaces", "list"], env);
    expect(listed.stdout).toMatch(/^ws-123\s+Shop/m);
  });

  it("POST /api/cache/warm with no body warms the CACHE_WARM_DEFAULT set (seed 004 §3.3's bare curl)", async () => {
    const response = await fetch(`${env.SLUICE_URL}/api/cache/warm`, { method: "POST", headers: { authorization: `Bearer ${operator}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ requested: 2, warmed: 2, failed: 0 });
    const again = await t.app.inject({
      method: "POST",
      url: "/api/cache/warm",
      headers: { authorization: `Bearer ${operator}` },
      payload: { reason: "after deploy" },
    });
    expect(again.json()).toMatchObject({ requested: 2, already_cached: 2 });
  });

  it("REDIS_COMMAND_TIMEOUT_MS sets the kv connection's command timeout", () => {
    expect(t.sluice.kv.kind).toBe("redis");
    expect((t.sluice.kv as RedisKv).client.options.commandTimeout).toBe(1234);
  });

  it("exits 0 and quietly when its reader closes the pipe (sluice … | head)", () => {
    const pipeline = `node ${JSON.stringify(SLUICE_BIN)} sql --json -c "SELECT repeat('x', 3000000) AS big" | head -c 16; echo; echo "sluice=\${PIPESTATUS[0]}"`;
    const result = spawnSync("bash", ["-c", pipeline], {
      env: { ...process.env, DATABASE_URL: serverEnv.DATABASE_URL, LOG_LEVEL: "warn" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.stdout).toContain('[{"big":"xxxxxx');
    expect(result.stdout).toContain("sluice=0");
    expect(result.stderr).toBe("");
  });
});

describe("without a server configured for it", () => {
  it("answers 400 to a bodiless warm-up when CACHE_WARM_DEFAULT is not set", async () => {
    const t = await startTestSluice();
    try {
      const operator = (
        await t.sluice.intake.createApiKey({ workspaceId: (await t.sluice.intake.ensureWorkspace("ops", "Ops")).id, scopes: ["operator"] })
      ).secret;
      const response = await t.app.inject({ method: "POST", url: "/api/cache/warm", headers: { authorization: `Bearer ${operator}` } });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
    } finally {
      await t.close();
    }
  });
});

describe("sluice dev restarted on the same folder", () => {
  it("keeps the admin key it printed (stored in the data folder, owner-only)", async () => {
    const first = await startDev();
    await first.stop();
    const file = join(first.cwd, ".sluice", "dev-admin-key");
    expect(readFileSync(file, "utf8").trim()).toBe(first.key);
    expect(statSync(file).mode & 0o077).toBe(0);
    const second = await startDev({}, ["--no-demo"], { cwd: first.cwd });
    try {
      expect(second.key).toBe(first.key);
      const queues = await fetch(`${second.url}/api/workspaces`, { headers: { authorization: `Bearer ${first.key}` } });
      expect(queues.status).toBe(200);
    } finally {
      await second.stop();
    }
  }, 240_000);
});
