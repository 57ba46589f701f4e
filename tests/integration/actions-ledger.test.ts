import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAction } from "../../src/pipeline/actions/index.ts";
import type { ActionRequest } from "../../src/pipeline/runs/contracts.ts";
import { isSluiceError } from "../../src/core/errors.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * The actions gate and ledger on each store (PGlite; PostgreSQL + Redis db 20): policy refusals
 * with their codes, audited; at most one call per idempotency key across repeats and concurrent
 * callers; a crash mid-call (a `started` row whose heartbeat stopped) becomes `unknown` and goes
 * to a person through an `action.unknown` approval task, whose decision settles it.
 */

const WS = "ws-actions";

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isSluiceError(err)) return err.code;
    throw err;
  }
  return "resolved";
}

for (const engine of embeddedAndServers("actions_ledger", 20)) {
  describe(`actions ledger on ${engine.name}`, () => {
    let t: TestSluice;
    const calls = new Map<string, number>();
    let failNext: { retryable: boolean } | undefined;

    const request = (over: Partial<ActionRequest> & { idempotencyKey: string }): ActionRequest => ({
      workspace: WS,
      action: "test.count",
      args: { id: over.idempotencyKey },
      actor: "library",
      ...over,
    });
    const execute = (over: Partial<ActionRequest> & { idempotencyKey: string }) => t.sluice.actions.executor.execute(request(over));

    beforeAll(async () => {
      t = await startTestSluice({
        ...(await engine.env()),
        ACTIONS_ENABLED: "true",
        ALLOW_ACTIONS_DEFAULT: "test.count,test.slow,task.create,test.idem",
        ACTIONS_REQUIRE_APPROVAL: "test.idem",
        ACTIONS_LEASE_MS: "600",
        FLAGS_CACHE_MS: "0",
      });
      await t.sluice.intake.ensureWorkspace(WS, "Actions");
      t.sluice.action(
        defineAction({
          name: "test.count",
          args: z.object({ id: z.string() }),
          async execute(_ctx, args) {
            calls.set(args.id, (calls.get(args.id) ?? 0) + 1);
            if (failNext) {
              const { retryable } = failNext;
              failNext = undefined;
              const { SluiceError } = await import("../../src/core/errors.ts");
              throw new SluiceError("ACTION_FAILED", "remote said no", { retryable });
            }
            await new Promise((r) => setTimeout(r, 30));
            return { id: args.id, n: calls.get(args.id) };
          },
        }),
      );
      t.sluice.action(
        defineAction({
          name: "test.idem",
          args: z.object({ id: z.string() }),
          idempotent: true,
          execute: async (_ctx, args) => ({ again: args.id }),
        }),
      );
    });
    afterAll(async () => t?.close());

    it("refuses by policy with stable codes and audits each refusal", async () => {
      expect(await codeOf(execute({ idempotencyKey: "p1", action: "no.such" }))).toBe("ACTION_UNKNOWN");
      expect(await codeOf(execute({ idempotencyKey: "p2", action: "gmail.send", args: {} }))).toBe("ACTION_NOT_ALLOWED");
      expect(await codeOf(execute({ idempotencyKey: "p3", args: { id: 5 } }))).toBe("ACTION_ARGS_INVALID");
      expect(await codeOf(execute({ idempotencyKey: "p4", action: "test.idem", args: { id: "x" } }))).toBe("ACTION_APPROVAL_REQUIRED");
      await t.sluice.flags.set("actions.enabled", false, { actor: "test", reason: "drill" });
      expect(await codeOf(execute({ idempotencyKey: "p5" }))).toBe("ACTIONS_DISABLED");
      expect((await t.sluice.actions.executor.policy(WS, "test.count")).code).toBe("ACTIONS_DISABLED");
      await t.sluice.flags.unset("actions.enabled", { actor: "test" });
      expect(calls.size).toBe(0);
      const refused = await t.sluice.audit.list({ workspaceId: WS, action: "action.refused" });
      expect(refused.map((r) => r.details.code).sort()).toEqual([
        "ACTIONS_DISABLED",
        "ACTION_APPROVAL_REQUIRED",
        "ACTION_ARGS_INVALID",
        "ACTION_NOT_ALLOWED",
        "ACTION_UNKNOWN",
      ]);
    });

    it("a workspace's own allowlist replaces ALLOW_ACTIONS_DEFAULT", async () => {
      await t.sluice.actions.policy.setWorkspaceAllowlist(WS, ["task.create"], "test");
      expect(await codeOf(execute({ idempotencyKey: "w1" }))).toBe("ACTION_NOT_ALLOWED");
      const view = await t.sluice.actions.describe(WS);
      expect(view.policy).toMatchObject({ source: "workspace", allowed: ["task.create"], enabled: true });
      await t.sluice.actions.policy.setWorkspaceAllowlist(WS, null, "test");
      expect((await t.sluice.actions.policy.effective(WS)).source).toBe("default");
    });

    it("runs once per key: a repeat returns the stored outcome, and concurrent callers make one call", async () => {
      const first = await execute({ idempotencyKey: "once" });
      const again = await execute({ idempotencyKey: "once" });
      expect(first).toMatchObject({ status: "succeeded", result: { id: "once", n: 1 } });
      expect(again).toEqual(first);
      const racing = await Promise.allSettled(Array.from({ length: 8 }, () => execute({ idempotencyKey: "race" })));
      expect(calls.get("race")).toBe(1);
      for (const r of racing) {
        if (r.status === "fulfilled") expect(r.value).toMatchObject({ status: "succeeded" });
        else expect((r.reason as { code: string }).code).toBe("ACTION_IN_PROGRESS");
      }
      expect(await codeOf(execute({ idempotencyKey: "once", args: { id: "other" } }))).toBe("ACTION_KEY_REUSED");
      expect(calls.get("once")).toBe(1);
    });

    it("a retryable failure may run again on its key; a final one is returned as stored", async () => {
      failNext = { retryable: true };
      expect(await execute({ idempotencyKey: "flaky" })).toMatchObject({
        status: "failed",
        retryable: true,
        error: { code: "ACTION_FAILED" },
      });
      expect(await execute({ idempotencyKey: "flaky" })).toMatchObject({ status: "succeeded" });
      failNext = { retryable: false };
      expect(await execute({ idempotencyKey: "final" })).toMatchObject({ status: "failed", retryable: false });
      expect(await execute({ idempotencyKey: "final" })).toMatchObject({ status: "failed" });
      expect(calls.get("flaky")).toBe(2);
      expect(calls.get("final")).toBe(1);
    });

    it("a call cut off by a crash is not re-run: unknown, an approval task, and the decision settles it", async () => {
      const store = t.sluice.store;
      const crashed = async (key: string, action = "test.count") => {
        const { argsHash } = await import("../../src/pipeline/actions/executor.ts");
        const args = action === "test.count" ? { id: key } : { id: key };
        await store.query(
          `INSERT INTO action_executions (workspace_id, action, idempotency_key, args_hash, args, status, actor, heartbeat_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, 'started', 'library', now() - interval '1 hour')`,
          [WS, action, key, argsHash(args), JSON.stringify(args)],
        );
      };
      await crashed("crash-a");
      await crashed("crash-b");
      const a = await execute({ idempotencyKey: "crash-a" });
      expect(a).toMatchObject({ status: "unknown" });
      if (a.status !== "unknown") throw new Error("expected unknown");
      expect(a.approvalId).toBeTruthy();
      expect(calls.get("crash-a")).toBeUndefined();
      const task = await t.sluice.approvals.get(WS, a.approvalId!);
      expect(task).toMatchObject({
        approval_type: "action.unknown",
        status: "pending",
        payload: { execution_id: a.executionId, action: "test.count" },
      });
      // Asked again before anyone decided: the same task, still no call.
      expect(await execute({ idempotencyKey: "crash-a" })).toMatchObject({ status: "unknown", approvalId: a.approvalId });

      await t.sluice.approvals.decide({ actor: "key:person", workspaceId: WS }, a.approvalId!, true, "checked: nothing was sent");
      expect(await execute({ idempotencyKey: "crash-a" })).toMatchObject({ status: "succeeded", result: { id: "crash-a", n: 1 } });
      expect(await execute({ idempotencyKey: "crash-a" })).toMatchObject({ status: "succeeded" });
      expect(calls.get("crash-a")).toBe(1);

      const b = await execute({ idempotencyKey: "crash-b" });
      if (b.status !== "unknown") throw new Error("expected unknown");
      await t.sluice.approvals.decide({ actor: "key:person", workspaceId: WS }, b.approvalId!, false, "it was sent");
      expect(await execute({ idempotencyKey: "crash-b" })).toMatchObject({ status: "failed", error: { code: "ACTION_SKIPPED" } });
      expect(calls.get("crash-b")).toBeUndefined();
      const audit = await t.sluice.audit.list({ workspaceId: WS });
      expect(audit.filter((r) => r.action === "action.unknown")).toHaveLength(2);
      expect(
        audit
          .filter((r) => r.action === "action.resolve")
          .map((r) => r.details.resolution)
          .sort(),
      ).toEqual(["retry", "skip"]);
    });

    it("an idempotent action cut off by a crash is simply run again", async () => {
      const { argsHash } = await import("../../src/pipeline/actions/executor.ts");
      await t.sluice.store.query(
        `INSERT INTO action_executions (workspace_id, action, idempotency_key, args_hash, args, status, actor, heartbeat_at)
         VALUES ($1, 'test.idem', 'idem-1', $2, $3::jsonb, 'started', 'library', now() - interval '1 hour')`,
        [WS, argsHash({ id: "i" }), JSON.stringify({ id: "i" })],
      );
      const outcome = await execute({ idempotencyKey: "idem-1", action: "test.idem", args: { id: "i" }, approvedBy: "key:person" });
      expect(outcome).toMatchObject({ status: "succeeded", result: { again: "i" } });
      const [row] = await t.sluice.actions.executions({ workspace: WS, action: "test.idem" });
      expect(row).toMatchObject({ status: "succeeded", attempts: 2, approved_by: null });
    });

    it("a started call with a live heartbeat is in progress, not unknown", async () => {
      const { argsHash } = await import("../../src/pipeline/actions/executor.ts");
      await t.sluice.store.query(
        `INSERT INTO action_executions (workspace_id, action, idempotency_key, args_hash, args, status, actor)
         VALUES ($1, 'test.count', 'live', $2, $3::jsonb, 'started', 'library')`,
        [WS, argsHash({ id: "live" }), JSON.stringify({ id: "live" })],
      );
      expect(await codeOf(execute({ idempotencyKey: "live" }))).toBe("ACTION_IN_PROGRESS");
      expect(calls.get("live")).toBeUndefined();
    });

    it("a result or error the database cannot hold still settles the execution (never left started)", async () => {
      t.sluice.action(
        defineAction({
          name: "test.nul",
          args: z.object({ fail: z.boolean() }),
          execute: async (_ctx, args) => {
            if (args.fail) throw new Error("bad \u0000 byte");
            return { text: "a\u0000b" };
          },
        }),
      );
      await t.sluice.actions.policy.setWorkspaceAllowlist(WS, ["test.nul"], "test");
      expect(await execute({ idempotencyKey: "nul-ok", action: "test.nul", args: { fail: false } })).toMatchObject({
        status: "succeeded",
        result: { unstorable: expect.any(String) },
      });
      expect(await execute({ idempotencyKey: "nul-fail", action: "test.nul", args: { fail: true } })).toMatchObject({
        status: "failed",
        error: { message: "bad  byte" },
      });
      await t.sluice.actions.policy.setWorkspaceAllowlist(WS, null, "test");
    });

    it("task.create writes one row in Sluice's tasks table, audited", async () => {
      const outcome = await execute({
        idempotencyKey: "task-1",
        action: "task.create",
        args: { title: "Call the client back", assignee: "ana", labels: ["gold"] },
      });
      expect(outcome).toMatchObject({ status: "succeeded", result: { title: "Call the client back", status: "open" } });
      await execute({
        idempotencyKey: "task-1",
        action: "task.create",
        args: { title: "Call the client back", assignee: "ana", labels: ["gold"] },
      });
      const { rows } = await t.sluice.store.query<{ title: string; assignee: string; labels: string[] }>(
        "SELECT title, assignee, labels FROM tasks WHERE workspace_id = $1",
        [WS],
      );
      expect(rows).toEqual([{ title: "Call the client back", assignee: "ana", labels: ["gold"] }]);
      const executed = await t.sluice.audit.list({ workspaceId: WS, action: "action.execute" });
      expect(executed.find((r) => r.target === "task.create")?.details).toMatchObject({ outcome: "succeeded", policy: "allowed" });
    });
  });
}
