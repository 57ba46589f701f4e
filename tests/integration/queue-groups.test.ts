import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueGroupStatus } from "../../src/pipeline/admin/queue-admin.ts";
import type { QueueStatus } from "../../src/pipeline/queues/thresholds.ts";
import { runCliAsync } from "../harness/cli.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * Seed 003 §1.2 `curl /api/admin/queues/etapa5 | jq '.queues[] | {name, waiting, active, failed}'`
 * with its "alerts: waiting < 10, failed = 0": QUEUE_GROUPS and QUEUE_THRESHOLDS, shown by the API and `sluice queues`.
 */
describe.each(embeddedAndServers("qgroups", 36))("queue groups and thresholds on $name", ({ env: engineEnv }) => {
  let t: TestSluice;
  let operator: string;
  let cliEnv: Record<string, string>;
  const get = async <T>(url: string) => {
    const res = await t.app.inject({ method: "GET", url, headers: { authorization: `Bearer ${operator}` } });
    return { status: res.statusCode, body: res.json<T>() };
  };

  beforeAll(async () => {
    t = await startTestSluice({
      ...(await engineEnv()),
      QUEUE_GROUPS: JSON.stringify({ etapa5: ["churn", "sentiment"] }),
      QUEUE_THRESHOLDS: JSON.stringify({ "*": { waiting: 50 }, churn: { waiting: 3, failed: 0 } }),
    });
    await t.sluice.intake.ensureWorkspace("ops", "Ops");
    operator = (await t.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    cliEnv = { SLUICE_URL: await t.app.listen({ port: 0, host: "127.0.0.1" }), SLUICE_API_KEY: operator };
    // No worker runs: five churn jobs stay waiting, past churn's threshold of 3; one sentiment job stays under 50.
    for (let i = 0; i < 5; i++) await t.sluice.queues.add("churn", "score", { i });
    await t.sluice.queues.add("sentiment", "analyse", {});
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it("GET /api/admin/queues/etapa5 lists the group's queues with total, thresholds and the ones over", async () => {
    const { status, body } = await get<QueueGroupStatus>("/api/admin/queues/etapa5");
    expect(status).toBe(200);
    expect(body.queues.map((q) => q.name)).toEqual(["churn", "sentiment"]);
    const [churn, sentiment] = body.queues;
    expect(churn).toMatchObject({
      waiting: 5,
      failed: 0,
      total: 5,
      thresholds: { waiting: 3, failed: 0 },
      levels: { waiting: "over", failed: "ok" },
      over: ["waiting"],
    });
    expect(sentiment).toMatchObject({
      waiting: 1,
      total: 1,
      thresholds: { waiting: 50, failed: 100 },
      levels: { waiting: "ok", failed: "ok" },
      over: [],
    });
    expect(body.over).toEqual(["churn"]);
  });

  it("GET /api/queues shows every queue against its thresholds; a queue name works as a group of one; an unknown name is 404", async () => {
    const { body } = await get<QueueStatus[]>("/api/queues");
    expect(body.find((q) => q.name === "ai-jobs")).toMatchObject({ thresholds: { waiting: 50, failed: 100 }, over: [] });
    expect(body.find((q) => q.name === "churn")?.over).toEqual(["waiting"]);
    expect((await get<QueueGroupStatus>("/api/admin/queues/sentiment")).body.queues.map((q) => q.name)).toEqual(["sentiment"]);
    const missing = await get<{ error: { code: string } }>("/api/admin/queues/etapa9");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("QUEUE_NOT_FOUND");
  });

  it("sluice queues flags the queue over its threshold; --group shows only the group", async () => {
    const all = await runCliAsync(["queues"], cliEnv);
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^NAME\s+WAITING.*THRESHOLDS\s+ALERT$/m);
    expect(all.stdout).toMatch(/^churn\s+5\s.*waiting<=3 failed<=0\s+OVER waiting$/m);
    expect(all.stdout).toMatch(/^sentiment\s+1\s.*waiting<=50 failed<=100\s+ok$/m);
    const group = await runCliAsync(["queues", "--group", "etapa5", "--json"], cliEnv);
    expect((JSON.parse(group.stdout) as QueueStatus[]).map((q) => q.name)).toEqual(["churn", "sentiment"]);
  });
});
