import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startDev, type DevServer } from "../harness/cli.ts";

/** The CLI against a real `sluice dev` over a real socket, the way an operator runs the runbook. */
describe("sluice CLI against a running dev server", () => {
  let dev: DevServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    dev = await startDev({ QUEUES: "churn" });
    env = dev.env;
  });
  afterAll(async () => {
    await dev.stop();
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
    expect(runCli(["clean", "churn", "--grace", "24h", "--status", "failed"], env).stdout).toContain(
      "Removed 0 failed job(s) older than 24h from churn.",
    );
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

describe("sluice dev, the README's first command", () => {
  it("does the main job: jobs through the API, items embedded by the backfill, a vector search", async () => {
    const dev = await startDev({}, []);
    try {
      const deadline = Date.now() + 60_000;
      while (!dev.output().includes("Stop with Ctrl-C.") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const out = dev.output();
      expect(out).toMatch(/Great product, arrived fast .*completed\s+positive/);
      expect(out).toMatch(/Terrible experience.*completed\s+negative/);
      expect(out).toContain("Embedded: 10 of 10.");
      const hits = /Search "shoes for running"[^\n]*\n[^\n]*\n(sku-\d+)[^\n]*\n(sku-\d+)/.exec(out);
      expect(new Set([hits?.[1], hits?.[2]])).toEqual(new Set(["sku-1", "sku-4"]));
    } finally {
      await dev.stop();
    }
  });
});
