import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AttemptErrorRow } from "../../src/pipeline/ops/queue-errors.ts";
import { runCliAsync } from "../harness/cli.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/** `sluice queues errors <queue>` = GET /api/queues/{name}/errors (seed 003 §3.1 "Check recent errors"). */
describe("recent attempt errors of a queue", () => {
  let t: TestSluice;
  let env: Record<string, string>;
  let operator: string;

  beforeAll(async () => {
    t = await startTestSluice({ QUEUES: "churn" });
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    env = { SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }), SLUICE_API_KEY: operator };
    const tries = new Map<string, number>();
    // A worker of our own on churn: "flaky" fails its first attempt, "broken" every one.
    await t.sluice.queues.startWorker(
      "churn",
      async (job) => {
        const n = (tries.get(String(job.id)) ?? 0) + 1;
        tries.set(String(job.id), n);
        if (job.name === "broken" || n === 1) throw new Error(`${job.name} attempt ${n}: provider said no`);
        return "ok";
      },
      { concurrency: 1 },
    );
    await t.sluice.queues.add("churn", "flaky", {}, { attempts: 2, backoff: 10 });
    await t.sluice.queues.add("churn", "broken", {}, { attempts: 3, backoff: 10 });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const counts = await t.sluice.queues.counts("churn");
      if (counts.completed + counts.failed === 2) break;
      if (Date.now() > deadline) throw new Error(`jobs did not settle: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    await t.close();
  });

  it("lists each job's last attempt error and the earlier ones, newest first", async () => {
    const result = await runCliAsync(["queues", "errors", "churn", "--json"], env);
    expect(result.status, result.stderr).toBe(0);
    const rows = JSON.parse(result.stdout) as AttemptErrorRow[];
    const broken = rows.find((r) => r.job_name === "broken");
    const flaky = rows.find((r) => r.job_name === "flaky");
    expect(broken).toMatchObject({ state: "failed", attempts_made: 3, max_attempts: 3, last_error: "broken attempt 3: provider said no" });
    expect(broken?.earlier_errors).toEqual(["Error: broken attempt 1: provider said no", "Error: broken attempt 2: provider said no"]);
    expect(flaky).toMatchObject({ state: "completed", last_error: "flaky attempt 1: provider said no" });
    expect(rows.map((r) => r.at)).toEqual([...rows.map((r) => r.at)].sort().reverse());
  });

  it("prints a table, keeps `sluice queues` listing queues, and answers 404 for an unknown queue", async () => {
    const printed = await runCliAsync(["queues", "errors", "churn"], env);
    expect(printed.stdout).toMatch(/^AT\s+JOB_ID\s+JOB_NAME\s+STATE\s+ATTEMPTS\s+LAST_ERROR$/m);
    expect(printed.stdout).toMatch(/broken\s+failed\s+3\/3\s+broken attempt 3/);
    const list = await runCliAsync(["queues"], env);
    expect(list.stdout).toMatch(/^churn\s+/m);
    // Seed 003's /api/admin prefix answers the same.
    const admin = await t.app.inject({
      method: "GET",
      url: "/api/admin/queues/churn/errors?limit=1",
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(admin.json<{ errors: AttemptErrorRow[] }>().errors).toHaveLength(1);
    const missing = await t.app.inject({ method: "GET", url: "/api/queues/nope/errors", headers: { authorization: `Bearer ${operator}` } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: "QUEUE_NOT_FOUND" } });
  });
});
