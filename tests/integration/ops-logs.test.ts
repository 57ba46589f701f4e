import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import { runCli, startDev, type DevServer } from "../harness/cli.ts";
import { until } from "../harness/wait.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

const SECRETS = { apiKey: "sk-live-LOGFILE-SECRET", config: { databaseUrl: "postgres://sluice:PG-PASSWORD-123@db/sluice" } };

function fileText(path: string): string {
  return [`${path}.3`, `${path}.2`, `${path}.1`, path]
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f, "utf8"))
    .join("");
}

/** LOG_FILE (rotated, redacted) and `sluice logs`: seed 002's `kubectl logs … | grep -i error | tail -5`. */
describe("LOG_FILE and sluice logs", () => {
  const dir = fileTempDir("sluice-logs-");
  const path = join(dir, "sluice.log");

  beforeAll(async () => {
    const logger = createLogger({ level: "info", destination: { write: () => undefined }, file: { path, maxSize: "2K", count: 2 } }).child({
      component: "test",
    });
    for (let i = 0; i < 60; i++) logger.info({ i, ...SECRETS }, `routine line ${i}`);
    logger.error({ queue: "churn", err: "provider 503" }, "job failed after 3 attempts");
    logger.warn({ i: 61 }, "last line");
    await until(
      async () => fileText(path),
      (t) => t.includes("last line"),
      10_000,
      "the last line in the file",
    );
  });

  it("rotates logrotate-style at LOG_FILE_MAX_SIZE, keeps LOG_FILE_COUNT files, and redacts secrets in them", () => {
    expect(existsSync(`${path}.1`) && existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    const text = fileText(path);
    expect(text).toContain("[redacted]");
    expect(text).not.toContain("LOGFILE-SECRET");
    expect(text).not.toContain("PG-PASSWORD-123");
  });

  it("reads the last N lines across the rotated files, filtered by level, text and time", () => {
    const last = runCli(["logs", "--json", "-n", "3", "--file", path]);
    expect(last.status, last.stderr).toBe(0);
    const msgs = last.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toEqual(["routine line 59", "job failed after 3 attempts", "last line"]);

    const errors = runCli(["logs", "--json", "--level", "error"], { LOG_FILE: path });
    expect(errors.stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(errors.stdout)).toMatchObject({ level: 50, queue: "churn", msg: "job failed after 3 attempts" });

    const grep = runCli(["logs", "--grep", "PROVIDER 503"], { LOG_FILE: path });
    expect(grep.stdout).toMatch(/ERROR: job failed after 3 attempts/);
    expect(grep.stdout).not.toContain("routine");

    expect(runCli(["logs", "--json", "--since", "10m", "-n", "1000"], { LOG_FILE: path }).stdout.trim().split("\n").length).toBeGreaterThan(
      10,
    );
    expect(runCli(["logs", "--json", "--since", new Date(Date.now() + 60_000).toISOString()], { LOG_FILE: path }).stdout).toBe("");
    const bad = runCli(["logs", "--since", "yesterday-ish"], { LOG_FILE: path });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/expected a duration/);
  });

  it("without LOG_FILE says so and how to set it, exit 1", () => {
    const none = runCli(["logs"], { LOG_FILE: "" });
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/LOG_FILE is not set/);
    expect(none.stderr).toMatch(/LOG_FILE=\/var\/log\/sluice\/sluice\.log/);
    const missing = runCli(["logs"], { LOG_FILE: join(dir, "nothing-yet.log") });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/No log file at .*nothing-yet\.log yet/);
  });

  describe("a running Sluice", () => {
    let dev: DevServer;
    const devLog = join(dir, "dev.log");
    beforeAll(async () => {
      dev = await startDev({ LOG_FILE: devLog });
    });
    afterAll(async () => {
      await dev.stop();
    });

    it("writes its log lines to LOG_FILE, without the admin key it printed", async () => {
      const found = await until(
        async () => runCli(["logs", "--json", "--grep", "sluice listening"], { LOG_FILE: devLog }),
        (r) => r.stdout.includes("listening"),
        20_000,
        "sluice listening in LOG_FILE",
      );
      expect(JSON.parse(found.stdout.trim().split("\n")[0] ?? "{}")).toMatchObject({
        service: "sluice",
        component: "server",
        msg: "sluice listening",
      });
      expect(fileText(devLog)).not.toContain(dev.key);
    });
  });
});
