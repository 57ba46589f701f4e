import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAction } from "../../src/pipeline/actions/index.ts";
import { embeddedAndServers, freshPostgresDatabase } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * An approved `action` task authorises one execution: POST /api/actions/{name}/execute with its
 * approval_id uses it up. Ten concurrent executes with one approval and ten keys: exactly one runs,
 * the other nine are 409 APPROVAL_USED; a retry of the execution that ran (its key) still answers
 * with that execution's result, without a second call. On each store the action tests use, plus
 * PostgreSQL-only (Redis logical database 49).
 */
const engines = [
  ...embeddedAndServers("actions_approval_use", 49),
  {
    name: "PostgreSQL only",
    env: async () => ({ DATABASE_URL: await freshPostgresDatabase("actions_approval_use_pg"), VECTOR_SEARCH_ENABLED: "false" }),
  },
];

for (const engine of engines) {
  describe(`an approval is used once, on ${engine.name}`, () => {
    let t: TestSluice;
    let secret = "";
    let calls = 0;
    const WS = "ws-use";
    const post = (url: string, body: unknown) =>
      t.app.inject({
        method: "POST",
        url,
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
        payload: JSON.stringify(body),
      });
    const execute = (key: string, approvalId: string) =>
      post("/api/actions/m.pay/execute", { args: { amount: 10 }, idempotency_key: key, approval_id: approvalId });

    beforeAll(async () => {
      t = await startTestSluice({
        ...(await engine.env()),
        ACTIONS_ENABLED: "true",
        ALLOW_ACTIONS_DEFAULT: "m.pay",
        ACTIONS_REQUIRE_APPROVAL: "m.pay",
      });
      await t.sluice.intake.ensureWorkspace(WS, WS);
      secret = (await t.sluice.intake.createApiKey({ workspaceId: WS, scopes: ["admin"] })).secret;
      // Slow enough that the ten requests overlap inside the executor.
      t.sluice.action(
        defineAction({
          name: "m.pay",
          args: z.object({ amount: z.number() }),
          execute: async () => {
            const n = ++calls;
            await new Promise((r) => setTimeout(r, 200));
            return { paid: n };
          },
        }),
      );
    });
    afterAll(async () => t?.close());

    it("ten concurrent executes with one approval: one runs, nine are APPROVAL_USED; a retry of the one returns its result", async () => {
      const created = await post("/api/approvals", { approval_type: "action", payload: { action: "m.pay", args: { amount: 10 } } });
      expect(created.statusCode, created.body).toBe(201);
      const approvalId = created.json<{ id: string }>().id;
      expect((await post(`/api/approvals/${approvalId}/approve`, { reason: "pay it once" })).statusCode).toBe(200);

      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => execute(`pay-${i}`, approvalId)));
      const ran = answers.filter((a) => a.statusCode === 200);
      expect(ran, answers.map((a) => `${a.statusCode} ${a.body}`).join("\n")).toHaveLength(1);
      const refused = answers.filter((a) => a.statusCode !== 200);
      expect(refused.map((a) => [a.statusCode, a.json<{ error: { code: string } }>().error.code])).toEqual(
        Array.from({ length: 9 }, () => [409, "APPROVAL_USED"]),
      );
      expect(calls).toBe(1);
      const winner = ran[0]!.json<{ execution_id: string; status: string; result: unknown }>();
      expect(winner).toMatchObject({ status: "succeeded", result: { paid: 1 } });
      const message = refused[0]!.json<{ error: { message: string } }>().error.message;
      expect(message).toContain(winner.execution_id);

      // The same execution again (its key): its stored result, no second call.
      const winnerKey = `pay-${answers.indexOf(ran[0]!)}`;
      const retried = await execute(winnerKey, approvalId);
      expect(retried.statusCode, retried.body).toBe(200);
      expect(retried.json()).toEqual(winner);
      // A later, sequential attempt with a new key is refused too.
      const later = await execute("pay-later", approvalId);
      expect([later.statusCode, later.json<{ error: { code: string } }>().error.code]).toEqual([409, "APPROVAL_USED"]);
      expect(calls).toBe(1);

      // The refusals are audited like every policy refusal.
      const { rows } = await t.sluice.store.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM action_audit WHERE action = 'action.refused' AND details->>'code' = 'APPROVAL_USED' AND workspace_id = $1",
        [WS],
      );
      expect(rows[0]?.n).toBe(10);
    });
  });
}
