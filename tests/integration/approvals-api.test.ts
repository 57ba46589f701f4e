import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { sampleValue } from "../harness/metrics.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";
import { threeBackends } from "./approvals-support.ts";

interface Task {
  id: string;
  status: string;
  assignee: string | null;
  run_id: string | null;
  decided_by: string | null;
  reason: string | null;
  pipeline_stage: string | null;
  approval_type: string;
  due_at: string;
  overdue: boolean;
}

// Seed 003 §3.4, verbatim.
const SEED_BREACH_SQL = `
SELECT 
  approval_type,
  COUNT(*) as breached,
  AVG(EXTRACT(EPOCH FROM (decided_at - due_at))/3600) as avg_hours_over
FROM approval_tasks
WHERE pipeline_stage = 'E5'
  AND decided_at > due_at  -- SLA breached = resolved after deadline
  AND created_at > NOW() - INTERVAL '7 days'
GROUP BY approval_type
`;

describe.each(threeBackends("apv", 22))("human approvals on $name", (engine) => {
  let t: TestSluice;
  let admin: string;
  let keyId: string;
  let otherAdmin: string;
  let reader: string;
  const call = (method: "GET" | "POST" | "PUT", url: string, key: string | undefined, body?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  const inbox = async (query: string, key = admin) =>
    (await call("GET", `/api/approvals?${query}`, key)).json<{ tasks: Task[]; total: number }>();
  const taskOfRun = async (runId: string): Promise<Task> => {
    const found = await until(
      async () => (await inbox("type=refund&limit=500")).tasks.find((x) => x.run_id === runId),
      (x) => x !== undefined,
      20_000,
      `task of run ${runId}`,
    );
    if (!found) throw new Error(`no task for run ${runId}`);
    return found;
  };
  const settled = (id: string) =>
    until(
      () => t.sluice.runs.get(id, "ws-apa"),
      (r) => ["completed", "failed", "cancelled"].includes(r.status),
      20_000,
      `run ${id}`,
    );

  beforeAll(async () => {
    t = await startTestSluice({ ...(await engine.env()), APPROVALS_SWEEP_MS: "300" });
    await t.sluice.intake.ensureWorkspace("ws-apa", "Approvals A");
    await t.sluice.intake.ensureWorkspace("ws-apb", "Approvals B");
    const key = await t.sluice.intake.createApiKey({ workspaceId: "ws-apa", scopes: ["admin"] });
    admin = key.secret;
    keyId = (await t.sluice.intake.authenticate(admin)).keyId;
    otherAdmin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-apb", scopes: ["admin"] })).secret;
    reader = (await t.sluice.intake.createApiKey({ workspaceId: "ws-apa", scopes: ["jobs:read"] })).secret;
    t.sluice.pipeline(
      definePipeline(
        { name: "refund-flow", input: z.object({ amount: z.number(), dueInMs: z.number().optional() }) },
        async (input, step) => {
          const decision = await step.approval("sign-off", {
            approvalType: input.dueInMs ? "t-expire" : "refund",
            pipelineStage: "E5",
            payload: { amount: input.amount },
            ...(input.dueInMs ? { dueInMs: input.dueInMs } : {}),
          });
          return { decision };
        },
      ),
    );
    await t.sluice.startWorkers({ concurrency: 2 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("configures an approval type (audited) and refuses configs that cannot work", async () => {
    const put = await call("PUT", "/api/approval-types/refund", admin, {
      sla_seconds: 3600,
      assignee_rule: "least_pending:ana,bob",
      on_deadline: "escalate",
      escalate_to: "lead",
      reason: "E5 rollout",
    });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({
      approval_type: "refund",
      sla_seconds: 3600,
      on_deadline: "escalate",
      escalate_to: "lead",
      updated_by: `key:${keyId}`,
    });
    expect((await call("GET", "/api/approval-types", admin)).json()).toMatchObject({ types: [{ approval_type: "refund" }] });
    expect((await call("GET", "/api/approval-types", otherAdmin)).json()).toEqual({ types: [] });
    const noTarget = await call("PUT", "/api/approval-types/x", admin, { sla_seconds: 60, on_deadline: "escalate" });
    expect(noTarget.statusCode).toBe(400);
    expect(noTarget.json().error.code).toBe("VALIDATION_FAILED");
    expect((await call("PUT", "/api/approval-types/x", admin, { sla_seconds: 0 })).statusCode).toBe(400);
    expect((await call("PUT", "/api/approval-types/x", admin, { sla_seconds: 60, on_deadline: "never" })).statusCode).toBe(400);
    const audit = await t.sluice.audit.list({ workspaceId: "ws-apa", action: "approval_type.put" });
    expect(audit[0]).toMatchObject({ target: "refund", reason: "E5 rollout", details: { outcome: "succeeded" } });
  });

  it("a run's approval step opens one task; approving it resumes the run with the decision, audited", async () => {
    const run = await t.sluice.runs.start({ pipeline: "refund-flow", workspace: "ws-apa", input: { amount: 40 } });
    const task = await taskOfRun(run.id);
    expect(task).toMatchObject({ status: "pending", pipeline_stage: "E5", assignee: "ana", overdue: false });
    expect(Math.abs(Date.parse(task.due_at) - Date.now() - 3_600_000)).toBeLessThan(60_000);
    expect((await t.sluice.runs.get(run.id, "ws-apa")).status).toBe("waiting");

    const approve = await call("POST", `/api/approvals/${task.id}/approve`, admin, { reason: "within policy" });
    expect(approve.statusCode, approve.body).toBe(200);
    expect(approve.json()).toMatchObject({ status: "approved", decided_by: `key:${keyId}`, reason: "within policy" });
    const done = await settled(run.id);
    expect(done.status).toBe("completed");
    expect(done.output).toEqual({ decision: { approved: true, decided_by: `key:${keyId}`, reason: "within policy" } });
    // The run replayed its code after the decision: still one task for its step.
    expect((await inbox("type=refund&limit=500")).tasks.filter((x) => x.run_id === run.id)).toHaveLength(1);

    const again = await call("POST", `/api/approvals/${task.id}/reject`, admin, { reason: "too late" });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe("APPROVAL_ALREADY_DECIDED");
    const audit = await t.sluice.audit.list({ workspaceId: "ws-apa", action: "approval.approve" });
    expect(audit[0]).toMatchObject({
      actor: `key:${keyId}`,
      target: task.id,
      reason: "within policy",
      details: { outcome: "succeeded", status: "approved" },
    });
  });

  it("rejecting resumes the run with approved false; the next task goes to the least loaded assignee", async () => {
    const first = await t.sluice.runs.start({ pipeline: "refund-flow", workspace: "ws-apa", input: { amount: 90 } });
    const firstTask = await taskOfRun(first.id);
    const second = await t.sluice.runs.start({ pipeline: "refund-flow", workspace: "ws-apa", input: { amount: 91 } });
    const secondTask = await taskOfRun(second.id);
    expect([firstTask.assignee, secondTask.assignee].sort()).toEqual(["ana", "bob"]);
    const reject = await call("POST", `/api/approvals/${firstTask.id}/reject`, admin, { reason: "over limit" });
    expect(reject.statusCode).toBe(200);
    expect((await settled(first.id)).output).toEqual({ decision: { approved: false, decided_by: `key:${keyId}`, reason: "over limit" } });
    expect((await call("POST", `/api/approvals/${secondTask.id}/approve`, admin, {})).statusCode).toBe(200);
    expect((await settled(second.id)).status).toBe("completed");
  });

  it("two people deciding one task at once: one decision wins, the other is 409, the run resumes once", async () => {
    const run = await t.sluice.runs.start({ pipeline: "refund-flow", workspace: "ws-apa", input: { amount: 12 } });
    const task = await taskOfRun(run.id);
    const answers = await Promise.all([
      call("POST", `/api/approvals/${task.id}/approve`, admin, { reason: "first" }),
      call("POST", `/api/approvals/${task.id}/reject`, admin, { reason: "second" }),
      call("POST", `/api/approvals/${task.id}/approve`, admin, { reason: "third" }),
    ]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409, 409]);
    const winner = answers.find((a) => a.statusCode === 200)?.json<Task>();
    const done = await settled(run.id);
    expect(done.output).toEqual({
      decision: { approved: winner?.status === "approved", decided_by: `key:${keyId}`, reason: winner?.reason },
    });
  });

  it("keeps workspaces apart: another workspace's task is 404 to read, decide or reassign", async () => {
    const created = await call("POST", "/api/approvals", admin, { approval_type: "kyc", payload: { client: "c-1" } });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<Task>().id;
    for (const [method, url, body] of [
      ["GET", `/api/approvals/${id}`, undefined],
      ["POST", `/api/approvals/${id}/approve`, {}],
      ["POST", `/api/approvals/${id}/reassign`, { assignee: "mallory" }],
    ] as const) {
      const res = await call(method, url, otherAdmin, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code).toBe("APPROVAL_NOT_FOUND");
    }
    expect((await inbox("", otherAdmin)).total).toBe(0);
    expect((await call("GET", `/api/approvals/${id}`, admin)).json()).toMatchObject({ id, status: "pending" });
  });

  it("filters the inbox, reassigns (audited) and answers bad input with 4xx codes", async () => {
    await call("POST", "/api/approvals", admin, { approval_type: "kyc", pipeline_stage: "E4", assignee: "ana", payload: {} });
    await call("POST", "/api/approvals", admin, { approval_type: "kyc", pipeline_stage: "E5", assignee: "dan", payload: {} });
    expect((await inbox("type=kyc")).total).toBe(3);
    expect((await inbox("type=kyc&stage=E4")).tasks.map((x) => x.assignee)).toEqual(["ana"]);
    const dan = (await inbox("assignee=dan")).tasks;
    expect(dan).toHaveLength(1);
    const moved = await call("POST", `/api/approvals/${dan[0]?.id}/reassign`, admin, { assignee: "carol", reason: "dan is away" });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ assignee: "carol", status: "pending" });
    expect((await inbox("assignee=dan")).total).toBe(0);
    expect((await inbox("assignee=carol&status=pending,escalated")).total).toBe(1);
    expect((await inbox("status=approved,rejected")).tasks.every((x) => ["approved", "rejected"].includes(x.status))).toBe(true);
    const audit = await t.sluice.audit.list({ workspaceId: "ws-apa", action: "approval.reassign" });
    expect(audit[0]).toMatchObject({ reason: "dan is away", details: { from: "dan", to: "carol", outcome: "succeeded" } });

    for (const [url, body] of [
      ["/api/approvals?status=bogus", undefined],
      ["/api/approvals?overdue=maybe", undefined],
      ["/api/approvals?limit=0", undefined],
    ] as const) {
      const res = await call("GET", url, admin, body);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code).toBe("VALIDATION_FAILED");
    }
    expect((await call("POST", `/api/approvals/${dan[0]?.id}/reassign`, admin, {})).statusCode).toBe(400);
    expect((await call("POST", "/api/approvals", admin, { payload: {} })).statusCode).toBe(400);
    const missing = await call("POST", "/api/approvals/no-such-task/approve", admin, {});
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("APPROVAL_NOT_FOUND");
    expect((await call("GET", "/api/approvals", undefined)).statusCode).toBe(401);
    expect((await call("GET", "/api/approvals", reader)).statusCode).toBe(403);
  });

  it("applies deadlines on the scheduled sweep (expire, escalate, auto-decide), fails a waiting run on expiry, counts breaches", async () => {
    const rules = {
      "t-expire": { on_deadline: "expire" },
      "t-escalate": { on_deadline: "escalate", escalate_to: "lead" },
      "t-approve": { on_deadline: "auto_approve" },
      "t-reject": { on_deadline: "auto_reject" },
    };
    const ids: Record<string, string> = {};
    for (const [type, rule] of Object.entries(rules)) {
      expect((await call("PUT", `/api/approval-types/${type}`, admin, { sla_seconds: 60, ...rule })).statusCode).toBe(200);
      ids[type] = (
        await call("POST", "/api/approvals", admin, { approval_type: type, pipeline_stage: "E5", due_in_seconds: 1, payload: {} })
      ).json<Task>().id;
    }
    const run = await t.sluice.runs.start({ pipeline: "refund-flow", workspace: "ws-apa", input: { amount: 7, dueInMs: 500 } });
    // Nobody calls the sweep here: the BullMQ job scheduler on sluice-approvals does, every 300 ms.
    const read = async (type: string) => (await call("GET", `/api/approvals/${ids[type]}`, admin)).json<Task>();
    await until(
      () => read("t-reject"),
      (x) => x.status !== "pending",
      20_000,
      "the sweep",
    );
    await until(
      () => read("t-escalate"),
      (x) => x.status !== "pending",
      20_000,
      "the sweep",
    );
    expect(await read("t-expire")).toMatchObject({ status: "expired", decided_by: "system:deadline" });
    expect(await read("t-escalate")).toMatchObject({ status: "escalated", assignee: "lead", decided_by: null, overdue: true });
    expect(await read("t-approve")).toMatchObject({ status: "approved", decided_by: "system:deadline" });
    expect(await read("t-reject")).toMatchObject({ status: "rejected", decided_by: "system:deadline" });
    expect((await inbox("overdue=true")).tasks.map((x) => x.id)).toContain(ids["t-escalate"]);

    const failed = await settled(run.id);
    expect(failed.status).toBe("failed");
    expect(JSON.stringify(failed.steps)).toContain("APPROVAL_EXPIRED");

    const scrape = async () => (await t.app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${admin}` } })).body;
    let metrics = await scrape();
    // t-expire: the task above and the run's.
    for (const type of Object.keys(rules))
      expect(sampleValue(metrics, "hitl_sla_breached_total", `approval_type="${type}"`), type).toBe(type === "t-expire" ? 2 : 1);
    expect(sampleValue(metrics, "hitl_task_resolution_time_seconds_count", 'approval_type="refund"')).toBeGreaterThanOrEqual(3);
    expect(sampleValue(metrics, "hitl_tasks_pending", 'approval_type="kyc"')).toBe(3);
    expect(sampleValue(metrics, "hitl_tasks_pending", 'approval_type="t-escalate"')).toBe(1);

    // An escalated task is still decidable, by the person it went to; decided, it leaves the pending gauge.
    expect((await call("POST", `/api/approvals/${ids["t-escalate"]}/approve`, admin, { reason: "lead says yes" })).statusCode).toBe(200);
    metrics = await scrape();
    expect(sampleValue(metrics, "hitl_tasks_pending", 'approval_type="t-escalate"')).toBe(0);
    expect(sampleValue(metrics, "hitl_sla_breached_total", 'approval_type="t-escalate"')).toBe(1);
    const audit = await t.sluice.audit.list({ workspaceId: "ws-apa", action: "approval.escalate" });
    expect(audit[0]).toMatchObject({ actor: "system:deadline", target: ids["t-escalate"] });
  });

  it("seed 003 §3.4's breach query runs verbatim and sees the late decisions", async () => {
    const { rows } = await t.sluice.store.query<{ approval_type: string; breached: number; avg_hours_over: number }>(SEED_BREACH_SQL);
    const byType = new Map(rows.map((r) => [r.approval_type, Number(r.breached)]));
    expect(byType.get("t-expire")).toBe(2);
    expect(byType.get("t-escalate")).toBe(1);
    expect(byType.get("t-approve")).toBe(1);
    expect(byType.has("refund")).toBe(false);
  });

  it("archives decided tasks older than the cut-off in one audited transaction; seed 003 §5.1's statements run verbatim", async () => {
    const decided = (await inbox("status=approved,rejected,expired&limit=500")).tasks;
    const aged = decided.filter((x) => x.approval_type === "refund").map((x) => x.id);
    expect(aged.length).toBeGreaterThanOrEqual(3);
    // Age them: the archive cut-off is in days, and the test cannot wait 30.
    await t.sluice.store.query("UPDATE approval_tasks SET decided_at = now() - interval '31 days' WHERE id = ANY($1::text[])", [aged]);
    const res = await call("POST", "/api/approvals/archive", admin, { reason: "monthly" });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ archived: aged.length });
    const { rows: archived } = await t.sluice.store.query<{ id: string; archived_at: Date }>(
      "SELECT id, archived_at FROM approval_tasks_archive WHERE id = ANY($1::text[])",
      [aged],
    );
    expect(archived).toHaveLength(aged.length);
    expect((await call("GET", `/api/approvals/${aged[0]}`, admin)).statusCode).toBe(404);
    expect((await inbox("status=approved,rejected,expired&limit=500")).total).toBe(decided.length - aged.length);
    const audit = await t.sluice.audit.list({ workspaceId: "ws-apa", action: "approvals.archive" });
    expect(audit[0]).toMatchObject({
      reason: "monthly",
      details: { outcome: "succeeded", archived: aged.length, older_than_seconds: 2_592_000 },
    });
    expect((await call("POST", "/api/approvals/archive", admin, { older_than: "soon" })).statusCode).toBe(400);
    expect((await call("POST", "/api/approvals/archive", admin, { older_than: 1e300 })).json().error.code).toBe("VALIDATION_FAILED");
    expect((await call("POST", "/api/approvals/archive", admin, { older_than: "99999999999d" })).statusCode).toBe(400);

    const expired = decided.find((x) => x.approval_type === "t-expire" && x.pipeline_stage === "E5");
    expect(expired).toBeDefined();
    const agedExpired = await t.sluice.store.query("UPDATE approval_tasks SET decided_at = now() - interval '40 days' WHERE id = $1", [
      expired?.id,
    ]);
    expect(agedExpired.rowCount).toBe(1);
    await t.sluice.store.query(`
INSERT INTO approval_tasks_archive 
SELECT * FROM approval_tasks 
WHERE pipeline_stage = 'E5'
  AND status IN ('approved', 'rejected', 'expired')
  AND decided_at < NOW() - INTERVAL '30 days'
`);
    await t.sluice.store.query(`
DELETE FROM approval_tasks 
WHERE pipeline_stage = 'E5'
  AND status IN ('approved', 'rejected', 'expired')
  AND decided_at < NOW() - INTERVAL '30 days'
`);
    expect((await t.sluice.store.query("SELECT 1 FROM approval_tasks_archive WHERE id = $1", [expired?.id])).rows).toHaveLength(1);
    expect((await t.sluice.store.query("SELECT 1 FROM approval_tasks WHERE id = $1", [expired?.id])).rows).toHaveLength(0);
  });
});
