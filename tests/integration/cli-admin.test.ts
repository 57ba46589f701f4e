import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli, waitForExit } from "../harness/cli.ts";
import { freePort } from "../harness/servers.ts";

/** The CLI against a real `sluice dev` over a real socket, the way an operator runs the runbook. */
describe("sluice CLI against a running dev server", () => {
  let child: ChildProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    const cwd = mkdtempSync(join(tmpdir(), "sluice-cli-admin-"));
    const port = await freePort();
    const started = await startCli(["dev"], { QUEUES: "churn" }, port, cwd);
    child = started.child;
    const deadline = Date.now() + 30_000;
    let key: string | undefined;
    while (!key && Date.now() < deadline) {
      key = /Admin key (sk_sluice_\S+)/.exec(started.output())?.[1];
      if (!key) await new Promise((r) => setTimeout(r, 100));
    }
    if (!key) throw new Error(`no admin key printed: ${started.output()}`);
    env = { SLUICE_URL: `http://127.0.0.1:${port}`, SLUICE_API_KEY: key };
  });
  afterAll(async () => {
    child.kill("SIGTERM");
    await waitForExit(child);
  });

  it("lists queues, pauses and resumes one and all", () => {
    const queues = runCli(["queues"], env);
    expect(queues.stdout).toMatch(/^NAME\s+WAITING\s+ACTIVE/m);
    expect(queues.stdout).toMatch(/^churn\s+0/m);
    const pause = runCli(["pause", "churn", "--reason", "runbook drill"], env);
    expect(pause.status, pause.stderr).toBe(0);
    expect(runCli(["queues", "--json"], env).stdout).toMatch(/"name": "churn",[\s\S]*?"paused": true/);
    const resumeAll = runCli(["resume", "--all"], env);
    expect(resumeAll.stdout).toContain("Resumed: ai-batch-queue, ai-jobs, churn");
    expect(runCli(["queues", "--json"], env).stdout).not.toContain('"paused": true');
  });

  it("retries, cleans and lists jobs, and reports errors with the server's code", () => {
    expect(runCli(["retry", "churn"], env).stdout).toContain("Retried 0 failed job(s) of churn.");
    expect(runCli(["clean", "churn", "--grace", "24h", "--status", "failed"], env).stdout).toContain("Removed 0 failed job(s) older than 24h from churn.");
    expect(runCli(["jobs", "churn", "--state", "failed"], env).stdout).toContain("0 of 0 failed");
    const missing = runCli(["pause", "no-such-queue"], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("QUEUE_NOT_FOUND");
    const noKey = runCli(["queues"], { SLUICE_URL: env.SLUICE_URL ?? "", SLUICE_API_KEY: "" });
    expect(noKey.stderr).toContain("UNAUTHENTICATED");
  });

  it("creates a key through the API, for a workspace it creates", () => {
    const created = runCli(["keys", "create", "--workspace", "ws-123", "--scopes", "jobs:write,jobs:read"], env);
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^sk_sluice_\S+$/m);
    expect(runCli(["keys", "list", "--workspace", "ws-123"], env).stdout).toContain("jobs:read");
  });
});
