import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Finding } from "../../src/cli/commands/doctor.ts";
import { runCli, runCliAsync } from "../harness/cli.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/** `sluice doctor`: each check OK/WARN/FAIL with evidence and fix; exit 1 on FAIL; --json. */
describe("sluice doctor", () => {
  let t: TestSluice;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await startTestSluice({ QUEUES: "churn", QUEUE_THRESHOLDS: '{"churn":{"waiting":2,"failed":5}}' });
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    const operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    env = { SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }), SLUICE_API_KEY: operator };
  });
  afterAll(async () => {
    await t.close();
  });

  it("reports config, disk, dependencies and queues; a queue with waiting jobs and no worker is a FAIL with its fix", async () => {
    await t.sluice.queues.add("churn", "job", {});
    const result = await runCliAsync(["doctor", "--json"], env);
    expect(result.status).toBe(1);
    const findings = JSON.parse(result.stdout) as Finding[];
    expect(findings.find((f) => f.check === "config")).toMatchObject({ level: "OK" });
    expect(findings.find((f) => f.check === "disk")?.evidence).toMatch(/% used/);
    expect(findings.find((f) => f.check === "db")).toMatchObject({ level: "OK" });
    expect(findings.find((f) => f.check === "queue churn")).toMatchObject({
      level: "FAIL",
      evidence: "1 waiting, no worker",
      fix: "start a worker: sluice start --role worker",
    });
    expect(findings.find((f) => f.check === "queue ai-jobs")).toMatchObject({ level: "OK" });
  });

  it("exits 0 once nothing fails, and prints a table", async () => {
    await t.sluice.queues.clean("churn", { state: "waiting", graceMs: 0 });
    await t.sluice.queues.pause("churn");
    const result = await runCliAsync(["doctor"], env);
    expect(result.stdout).toMatch(/^LEVEL\s+CHECK\s+EVIDENCE\s+FIX$/m);
    expect(result.stdout).toMatch(/^WARN\s+queue churn\s+paused\s+sluice resume churn$/m);
    expect(result.status, result.stdout).toBe(0);
  });

  it("holds each queue to its own QUEUE_THRESHOLDS", async () => {
    for (let i = 0; i < 3; i++) await t.sluice.queues.add("churn", "job", {});
    const findings = JSON.parse((await runCliAsync(["doctor", "--json"], env)).stdout) as Finding[];
    expect(findings.find((f) => f.check === "queue churn")).toMatchObject({
      level: "WARN",
      evidence: "3 waiting (> 2), paused",
      fix: "sluice resume churn",
    });
    expect(findings.find((f) => f.check === "queue ai-jobs")).toMatchObject({ level: "OK" });
  });

  it("says FAIL when the server cannot be reached, and when the configuration is bad", () => {
    const down = runCli(["doctor", "--json", "--url", "http://127.0.0.1:1"]);
    expect(down.status).toBe(1);
    expect(JSON.parse(down.stdout)).toContainEqual(expect.objectContaining({ check: "server", level: "FAIL" }));
    const bad = runCli(["doctor", "--json", "--url", "http://127.0.0.1:1"], { QUEUE_BACKEND: "kafka" });
    expect(JSON.parse(bad.stdout)).toContainEqual(expect.objectContaining({ check: "config", level: "FAIL" }));
  });
});
