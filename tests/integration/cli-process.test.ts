import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, startCli, waitForExit } from "../harness/cli.ts";
import { freshPostgresDatabase } from "../harness/databases.ts";
import { seedPgliteDataDir } from "../harness/pglite-template.ts";
import { freePort } from "../harness/servers.ts";
import { fileTempDir } from "../harness/temp-dirs.ts";

describe("the sluice process", () => {
  it("refuses a bad configuration at once, naming every bad variable", () => {
    const result = runCli(["start"], { PORT: "eighty", QUEUE_BACKEND: "kafka", LOG_LEVEL: "loud" });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain("Invalid configuration");
    for (const name of ["PORT", "QUEUE_BACKEND", "LOG_LEVEL"]) expect(result.stderr).toContain(name);
    expect(result.stderr.split("Invalid configuration").length).toBe(2);
  });

  it("starts on embedded defaults, reports ready through `sluice status`, and exits 0 on SIGTERM", async () => {
    const cwd = fileTempDir("sluice-cli-");
    seedPgliteDataDir(join(cwd, ".sluice", "pgdata"));
    const port = await freePort();
    const { child, output } = await startCli(["start", "--role", "all"], {}, port, cwd);
    const status = runCli(["status", "--url", `http://127.0.0.1:${port}`]);
    expect(status.stdout).toContain("READY");
    expect(status.stdout).toMatch(/db\s+ok/);
    expect(status.status).toBe(0);
    child.kill("SIGTERM");
    expect(await waitForExit(child)).toBe(0);
    expect(output()).toContain("shutting down");
  });

  it("`sluice status` exits non-zero when the server is unreachable", async () => {
    const port = await freePort();
    const result = runCli(["status", "--url", `http://127.0.0.1:${port}`]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("Cannot reach Sluice");
  });

  it("`sluice migrate` applies migrations on a PostgreSQL server, then has nothing to do", async () => {
    const url = await freshPostgresDatabase("cli");
    const env = { DATABASE_URL: url, VECTOR_SEARCH_ENABLED: "false" };
    const first = runCli(["migrate"], env);
    expect(first.stdout).toContain("Applied: 0001_core");
    expect(first.stdout).toContain("Skipped (no pgvector): 0002_vector");
    const second = runCli(["migrate"], env);
    expect(second.stdout).toContain("Nothing to apply.");
  });

  it("fails with a clear message where pgvector is missing and search is on", async () => {
    const url = await freshPostgresDatabase("cli");
    const result = runCli(["migrate"], { DATABASE_URL: url });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("pgvector is not installed on this server");
  });
});
