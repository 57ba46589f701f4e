import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAction } from "../../src/pipeline/actions/index.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/** A new task tells someone through the action its type names, once, through the actions gate. */
describe("approval notifications through an action", () => {
  let t: TestSluice;
  let admin: string;
  const sent: Array<{
    channel: string;
    approval: { id: string; approval_type: string; assignee?: string | null };
    event?: string | undefined;
  }> = [];
  const call = (method: "POST" | "PUT", url: string, body: unknown) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      payload: JSON.stringify(body),
    });

  beforeAll(async () => {
    t = await startTestSluice({ ACTIONS_ENABLED: "true", ALLOW_ACTIONS_DEFAULT: "team.notify" });
    await t.sluice.intake.ensureWorkspace("ws-ntf", "Notify");
    admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-ntf", scopes: ["admin"] })).secret;
    // A user-defined action, as a library user registers one (a chat message, say).
    t.sluice.action(
      defineAction({
        name: "team.notify",
        args: z.object({
          channel: z.string(),
          approval: z.object({ id: z.string(), approval_type: z.string() }).passthrough(),
          event: z.string().optional(),
        }),
        execute: async (_ctx, args) => {
          sent.push(args);
          return { ok: true };
        },
      }),
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it("sends the type's notify action with its arguments and the task, recorded in the action ledger", async () => {
    const put = await call("PUT", "/api/approval-types/offer", {
      sla_seconds: 3600,
      notify_action: "team.notify",
      notify_args: { channel: "#e5-approvals" },
    });
    expect(put.statusCode, put.body).toBe(200);
    const created = await call("POST", "/api/approvals", { approval_type: "offer", pipeline_stage: "E5", payload: { client: "c-1" } });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ id: string }>().id;
    await until(
      async () => sent.length,
      (n) => n > 0,
      10_000,
      "the notification",
    );
    expect(sent).toEqual([
      { channel: "#e5-approvals", approval: expect.objectContaining({ id, approval_type: "offer" }) as unknown, event: "created" },
    ]);
    const { rows } = await t.sluice.store.query<{ action: string; status: string }>(
      "SELECT action, status FROM action_executions WHERE idempotency_key = $1",
      [`approval:${id}:created`],
    );
    expect(rows).toEqual([{ action: "team.notify", status: "succeeded" }]);

    // A type without a notify action sends nothing.
    await call("POST", "/api/approvals", { approval_type: "silent", payload: {} });
    expect(sent).toHaveLength(1);
  });

  it("notifies the new assignee when the deadline escalates a task, once, through the same action", async () => {
    const put = await call("PUT", "/api/approval-types/refund-esc", {
      sla_seconds: 1,
      on_deadline: "escalate",
      escalate_to: "lead@example.com",
      notify_action: "team.notify",
      notify_args: { channel: "#leads" },
    });
    expect(put.statusCode, put.body).toBe(200);
    const created = await call("POST", "/api/approvals", { approval_type: "refund-esc", payload: { amount: 500 } });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ id: string }>().id;
    await new Promise((r) => setTimeout(r, 1_100));
    await t.sluice.approvals.sweep();
    await t.sluice.approvals.sweep();
    const escalations = sent.filter((s) => s.event === "escalated" && s.approval.id === id);
    expect(escalations).toEqual([
      {
        channel: "#leads",
        approval: expect.objectContaining({ id, status: "escalated", assignee: "lead@example.com" }) as unknown,
        event: "escalated",
      },
    ]);
    const { rows } = await t.sluice.store.query<{ status: string }>("SELECT status FROM action_executions WHERE idempotency_key = $1", [
      `approval:${id}:escalated`,
    ]);
    expect(rows).toEqual([{ status: "succeeded" }]);
  });
});
