import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { extract } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync } from "../harness/cli.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

const OPENAI_KEY = "sk-proj-INCIDENT-SECRET-1";
const DB_PASSWORD = "PG-INCIDENT-PW-2";

/** Every file under `dir`, by its path relative to it, with its text. */
function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return files;
}

async function unpack(archive: string): Promise<Map<string, string>> {
  const into = fileTempDir("sluice-incident-x-");
  await extract({ file: archive, cwd: into, strip: 1 });
  return readTree(into);
}

/** `sluice incident bundle`: seed 000's `docker compose logs > ai-incident-….log`, and the rest of the picture. */
describe("sluice incident bundle", () => {
  const dir = fileTempDir("sluice-incident-");
  const logFile = join(dir, "sluice.log");
  let t: TestSluice;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await startTestSluice({ QUEUES: "churn", LOG_LEVEL: "info", LOG_FILE: logFile });
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    const operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    env = {
      SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }),
      SLUICE_API_KEY: operator,
      LOG_FILE: logFile,
      OPENAI_API_KEY: OPENAI_KEY,
      DATABASE_URL: `postgres://sluice:${DB_PASSWORD}@127.0.0.1:1/sluice`,
    };
    await t.sluice.queues.startWorker("churn", () => Promise.reject(new Error("provider said no")), { concurrency: 1 });
    await t.sluice.queues.add("churn", "broken", {}, { attempts: 1 });
    await until(
      () => t.sluice.queues.counts("churn"),
      (c) => c.failed === 1,
      30_000,
      "the churn job failed",
    );
  });
  afterAll(async () => {
    await t.close();
  });

  it("writes one archive with status, health, queues with their failed jobs and errors, backlog, flags, doctor, config and logs, and no secret", async () => {
    const archive = join(dir, "incident.tar.gz");
    const result = await runCliAsync(["incident", "bundle", "-o", archive, "--log-lines", "50"], env);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Wrote ${archive}`);
    const files = await unpack(archive);
    const queueNames = (JSON.parse(files.get("queues.json") ?? "{}") as { body: Array<{ name: string }> }).body.map((q) => q.name);
    expect(queueNames).toEqual(expect.arrayContaining(["ai-jobs", "ai-batch-queue", "churn"]));
    expect([...files.keys()].sort()).toEqual(
      [
        "backlog.json",
        "cache.json",
        "config.json",
        "doctor.json",
        "flags.json",
        "health-db.json",
        "health-llm.json",
        "health-redis.json",
        "logs.jsonl",
        "manifest.json",
        "queues.json",
        "schedules.json",
        "status.json",
        ...queueNames.flatMap((q) => [`queues/${q}-errors.json`, `queues/${q}-failed.json`]),
      ].sort(),
    );
    expect(files.get("queues/churn-failed.json")).toContain("provider said no");
    expect(files.get("queues/churn-errors.json")).toContain("broken");
    expect(JSON.parse(files.get("status.json") ?? "{}")).toMatchObject({ http_status: 200, body: { ready: true } });
    expect(JSON.parse(files.get("doctor.json") ?? "[]")).toContainEqual(expect.objectContaining({ check: "queue churn" }));
    const logLines = (files.get("logs.jsonl") ?? "").trim().split("\n");
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.length).toBeLessThanOrEqual(50);
    expect(JSON.parse(logLines[0] ?? "{}")).toMatchObject({ service: "sluice" });
    const settings = (JSON.parse(files.get("config.json") ?? "{}") as { settings: Record<string, string> }).settings;
    expect(settings.DATABASE_URL).toBe("postgres://sluice:[redacted]@127.0.0.1:1/sluice");
    expect(settings.OPENAI_API_KEY).toBe("[redacted]");
    expect(settings.SLUICE_API_KEY).toBe("[redacted]");
    for (const [name, text] of files) {
      for (const secret of [OPENAI_KEY, DB_PASSWORD, env.SLUICE_API_KEY ?? "?"])
        expect(text.includes(secret), `${secret} in ${name}`).toBe(false);
    }
    const manifest = JSON.parse(files.get("manifest.json") ?? "{}") as { files: Array<{ file: string; ok: boolean }> };
    expect(manifest.files.filter((f) => !f.ok).map((f) => f.file)).toEqual([]);
  });

  it("still bundles the local parts when the server cannot be reached, and says what is missing", async () => {
    const archive = join(dir, "down.tar.gz");
    const result = await runCliAsync(["incident", "bundle", "-o", archive, "--url", "http://127.0.0.1:1"], { ...env, LOG_FILE: "" });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/not collected: .*status\.json/);
    expect(result.stdout).toMatch(/logs\.jsonl \(LOG_FILE is not set/);
    const files = await unpack(archive);
    expect(files.has("config.json") && files.has("doctor.json")).toBe(true);
    expect(JSON.parse(files.get("doctor.json") ?? "[]")).toContainEqual(expect.objectContaining({ check: "server", level: "FAIL" }));
  });
});
