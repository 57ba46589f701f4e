import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAction } from "../../src/pipeline/actions/index.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * POST /api/actions/{name}/execute never trusts a client-named approver: an action that requires
 * approval runs only with approval_id, a decided task the server checks (same workspace, approved,
 * type "action", this action and these arguments); the approver recorded is the task's decider.
 */
describe("execute API: the approver comes from a checked approval task", () => {
  let t: TestSluice;
  const keys: Record<string, string> = {};
  let calls = 0;
  const call = (ws: string, method: "POST", url: string, body: unknown) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${keys[ws]}`, "content-type": "application/json" },
      payload: JSON.stringify(body),
    });
  const execute = (ws: string, body: Record<string, unknown>) =>
    call(ws, "POST", "/api/actions/m.gated/execute", { args: { amount: 10 }, ...body });
  const approvedTask = async (ws: string, payload: unknown, approve = true): Promise<string> => {
    const created = await call(ws, "POST", "/api/approvals", { approval_type: "action", payload });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ id: string }>().id;
    if (approve) expect((await call(ws, "POST", `/api/approvals/${id}/approve`, { reason: "ok" })).statusCode).toBe(200);
    return id;
  };

  beforeAll(async () => {
    t = await startTestSluice({ ACTIONS_ENABLED: "true", ALLOW_ACTIONS_DEFAULT: "m.gated", ACTIONS_REQUIRE_APPROVAL: "m.gated" });
    for (const ws of ["ws-pa", "ws-pb"]) {
      await t.sluice.intake.ensureWorkspace(ws, ws);
      keys[ws] = (await t.sluice.intake.createApiKey({ workspaceId: ws, scopes: ["admin"] })).secret;
    }
    t.sluice.action(defineAction({ name: "m.gated", args: z.object({ amount: z.number() }), execute: async () => ({ paid: ++calls }) }));
  });
  afterAll(async () => t?.close());

  it("refuses a forged approved_by, a missing, pending, foreign or mismatched approval; runs with a real one", async () => {
    const forged = await execute("ws-pa", { idempotency_key: "k-forged", approved_by: "the-cfo" });
    expect([forged.statusCode, forged.json<{ error: { code: string } }>().error.code]).toEqual([400, "VALIDATION_FAILED"]);
    const none = await execute("ws-pa", { idempotency_key: "k-none" });
    expect([none.statusCode, none.json<{ error: { code: string } }>().error.code]).toEqual([403, "ACTION_APPROVAL_REQUIRED"]);

    const pending = await approvedTask("ws-pa", { action: "m.gated", args: { amount: 10 } }, false);
    const otherArgs = await approvedTask("ws-pa", { action: "m.gated", args: { amount: 9999 } });
    const foreign = await approvedTask("ws-pb", { action: "m.gated", args: { amount: 10 } });
    for (const [key, id] of [
      ["k-pending", pending],
      ["k-args", otherArgs],
      ["k-foreign", foreign],
      ["k-missing", "no-such-task"],
    ] as const) {
      const res = await execute("ws-pa", { idempotency_key: key, approval_id: id });
      expect([key, res.statusCode, res.json<{ error: { code: string } }>().error.code]).toEqual([key, 400, "APPROVAL_INVALID"]);
    }
    expect(calls).toBe(0);

    const good = await approvedTask("ws-pa", { action: "m.gated", args: { amount: 10 } });
    const ran = await execute("ws-pa", { idempotency_key: "k-good", approval_id: good });
    expect(ran.statusCode, ran.body).toBe(200);
    expect(calls).toBe(1);
    const [execution] = (await t.sluice.actions.executions({ workspace: "ws-pa" })).filter((e) => e.idempotency_key === "k-good");
    expect(execution?.approved_by).toMatch(/^key:/);
  });
});
