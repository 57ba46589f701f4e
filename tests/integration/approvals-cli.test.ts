import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync } from "../harness/cli.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/**
 * `sluice approvals` and `sluice schedules` as docs/runbook.md gives them for seed 003's procedures
 * (HITL inbox, SLA breaches, archive, cron staleness), against a real socket. The server lives in
 * this process so the test can age rows the way days would.
 */
describe("sluice approvals and sluice schedules (runbook, seed 003)", () => {
  let t: TestSluice;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCliAsync(args, env);
  const open = async (body: unknown) => {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/approvals",
      headers: { authorization: `Bearer ${env.SLUICE_API_KEY}`, "content-type": "application/json" },
      payload: JSON.stringify(body),
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<{ id: string }>().id;
  };

  beforeAll(async () => {
    t = await startTestSluice({ APPROVALS_SWEEP_MS: "300" });
    await t.sluice.intake.ensureWorkspace("ws-cli", "CLI");
    const key = await t.sluice.intake.createApiKey({ workspaceId: "ws-cli", scopes: ["admin"] });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    env = { SLUICE_URL: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`, SLUICE_API_KEY: key.secret };
    await t.sluice.startWorkers({ concurrency: 1 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("HITL inbox: lists E5 tasks, shows one, approves, rejects and reassigns with reasons", async () => {
    const first = await open({ approval_type: "offer", pipeline_stage: "E5", assignee: "ana", payload: { client: "c-9" } });
    const second = await open({ approval_type: "offer", pipeline_stage: "E5", assignee: "ana", payload: {} });
    const third = await open({ approval_type: "offer", pipeline_stage: "E4", payload: {} });
    const list = await cli("approvals", "list", "--stage", "E5");
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+APPROVAL_TYPE\s+PIPELINE_STAGE\s+STATUS\s+ASSIGNEE\s+DUE_AT/m);
    expect(list.stdout).toContain(first);
    expect(list.stdout).not.toContain(third);
    expect(list.stdout).toContain("2 of 2 task(s).");
    expect(JSON.parse((await cli("approvals", "show", first)).stdout)).toMatchObject({
      id: first,
      payload: { client: "c-9" },
      status: "pending",
    });

    const approve = await cli("approvals", "approve", first, "--reason", "fits the campaign");
    expect(approve.status, approve.stderr).toBe(0);
    expect(approve.stdout).toMatch(new RegExp(`${first}\\s+offer\\s+E5\\s+approved\\s+ana`));
    const reassign = await cli("approvals", "reassign", second, "bob", "--reason", "ana is away");
    expect(reassign.stdout).toMatch(/pending\s+bob/);
    expect((await cli("approvals", "reject", second, "--reason", "no consent")).stdout).toMatch(/rejected\s+bob/);
    const again = await cli("approvals", "approve", first);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("APPROVAL_ALREADY_DECIDED");
    const json = JSON.parse((await cli("approvals", "list", "--status", "approved,rejected", "--json")).stdout) as { total: number };
    expect(json.total).toBe(2);
  });

  it("SLA breaches: overdue tasks are listed with --overdue; types shows the deadline rules", async () => {
    const put = await t.app.inject({
      method: "PUT",
      url: "/api/approval-types/callback",
      headers: { authorization: `Bearer ${env.SLUICE_API_KEY}`, "content-type": "application/json" },
      payload: JSON.stringify({ sla_seconds: 1, on_deadline: "escalate", escalate_to: "team-lead" }),
    });
    expect(put.statusCode, put.body).toBe(200);
    const late = await open({ approval_type: "callback", pipeline_stage: "E5", payload: {} });
    await until(
      async () => (await cli("approvals", "list", "--overdue", "--json")).stdout,
      (out) => out.includes(late) && out.includes("escalated"),
      20_000,
      "escalation",
    );
    const overdue = await cli("approvals", "list", "--overdue", "--stage", "E5");
    expect(overdue.stdout).toMatch(new RegExp(`${late}\\s+callback\\s+E5\\s+escalated\\s+team-lead\\s+\\S+\\s+true`));
    expect((await cli("approvals", "types")).stdout).toMatch(/^callback\s+1\s+escalate\s+team-lead/m);
  });

  it("archive: decided tasks older than --older-than move to approval_tasks_archive", async () => {
    await t.sluice.store.query(
      "UPDATE approval_tasks SET decided_at = now() - interval '31 days' WHERE status IN ('approved', 'rejected') AND workspace_id = 'ws-cli'",
    );
    const archive = await cli("approvals", "archive", "--older-than", "30d", "--stage", "E5", "--reason", "weekly maintenance");
    expect(archive.status, archive.stderr).toBe(0);
    expect(archive.stdout).toContain("Archived 2 decided task(s) older than 30d.");
    const { rows } = await t.sluice.store.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM approval_tasks_archive WHERE workspace_id = 'ws-cli'",
    );
    expect(rows[0]?.n).toBe(2);
    expect((await cli("approvals", "archive")).stdout).toContain("Archived 0 decided task(s) older than 30d.");
  });

  it("cron staleness: sluice schedules shows last/next run and status, marks STALE ones and exits 2", async () => {
    const set = await cli(
      "schedules",
      "set",
      "e5_rescore",
      "--cron",
      "*/2 * * * * *",
      "--tz",
      "Europe/Bucharest",
      "--task",
      "classify",
      "--input",
      '{"text":"renewal"}',
      "--reason",
      "E5",
    );
    expect(set.status, set.stderr).toBe(0);
    // Read the listing that showed a finished firing: every 2 s the next one may be `running`.
    const ok = await until(
      () => cli("schedules"),
      (r) => /e5_rescore.*succeeded\s+OK/.test(r.stdout),
      20_000,
      "a firing",
    );
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^JOB_NAME\s+CRON\s+TZ\s+TARGET\s+LAST_RUN_AT\s+NEXT_RUN_AT\s+STATUS\s+HEALTH/m);
    expect(ok.stdout).toMatch(/e5_rescore\s+\*\/2 \* \* \* \* \*\s+Europe\/Bucharest\s+task:classify\s+\S+\s+\S+\s+succeeded\s+OK/);

    expect((await cli("schedules", "set", "e5_yearly", "--cron", "0 3 1 1 *", "--task", "classify")).status).toBe(0);
    // Its last firing three days ago: the test cannot wait two days.
    await t.sluice.store.query(
      "INSERT INTO schedule_runs (schedule_name, fired_for, started_at, finished_at, status) VALUES ('e5_yearly', now() - interval '3 days', now() - interval '3 days', now() - interval '3 days', 'succeeded')",
    );
    const stale = await cli("schedules", "--stale");
    expect(stale.status).toBe(2);
    expect(stale.stdout).toMatch(/e5_yearly\s+0 3 1 1 \*\s+UTC\s+task:classify.*STALE/);
    expect(stale.stdout).not.toContain("e5_rescore");
    const bad = await cli("schedules", "set", "e5_bad", "--cron", "whenever", "--task", "classify");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("SCHEDULE_INVALID");
    expect((await cli("schedules", "delete", "e5_rescore", "--reason", "done")).stdout).toContain("Removed schedule e5_rescore.");
  });
});
