import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * The seam between runs, actions and approvals as the root wires it, on the embedded default:
 * a pipeline's step.action goes through the actions' gate and ledger (keyed `${run}:${step}`),
 * a refused action fails the step with the policy's code, and an action that requires approval
 * runs only after a person approved the task, with the approver in the ledger.
 */

const WS = "ws-pipe";
type Run = {
  status: string;
  error: { code?: string } | null;
  steps?: Array<{ name: string; status: string; error: { code?: string } | null }>;
};

let t: TestSluice;

beforeAll(async () => {
  t = await startTestSluice({
    ACTIONS_ENABLED: "true",
    ALLOW_ACTIONS_DEFAULT: "task.create,email.send",
    ACTIONS_REQUIRE_APPROVAL: "email.send",
    ACTIONS_SMTP_URL: "smtp://127.0.0.1:1",
    ACTIONS_EMAIL_FROM: "x@example.com",
  });
  await t.sluice.intake.ensureWorkspace(WS, "Pipelines");
  t.sluice.pipeline(
    definePipeline({ name: "follow-up", input: z.object({ title: z.string(), action: z.string() }) }, async (input, step) => {
      const created = await step.action<{ task_id: string }>(
        "create",
        input.action,
        input.action === "email.send" ? { to: "a@example.com", subject: input.title, text: "." } : { title: input.title },
      );
      return { created };
    }),
  );
  await t.sluice.startWorkers({ concurrency: 2 });
});
afterAll(async () => t?.close());

const run = async (title: string, action: string) =>
  (await t.sluice.runs.start({ pipeline: "follow-up", workspace: WS, input: { title, action } })).id;
const settled = async (id: string): Promise<Run> => {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const view = (await t.sluice.runs.get(id, WS)) as unknown as Run;
    if (["completed", "failed", "cancelled"].includes(view.status) || Date.now() > deadline) return view;
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe("step.action through the actions' gate and ledger", () => {
  it("runs the action once, keyed by run and step", async () => {
    const id = await run("Call ACME back", "task.create");
    expect((await settled(id)).status).toBe("completed");
    const [execution] = await t.sluice.actions.executions({ workspace: WS, action: "task.create" });
    expect(execution).toMatchObject({
      idempotency_key: `${id}:create`,
      run_id: id,
      step_name: "create",
      status: "succeeded",
      actor: `run:${id}`,
    });
    const { rows } = await t.sluice.store.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE workspace_id = $1", [WS]);
    expect(rows[0]!.n).toBe(1);
  });

  it("a refused action fails its step with the policy's code, and nothing runs", async () => {
    const id = await run("nope", "github.issue.create");
    const view = await settled(id);
    expect(view.status).toBe("failed");
    expect(JSON.stringify(view)).toContain("ACTION_NOT_ALLOWED");
    expect(await t.sluice.actions.executions({ workspace: WS, action: "github.issue.create" })).toEqual([]);
  });

  it("an action that requires approval waits for a person, then runs with the approver recorded", async () => {
    const id = await run("Quarterly report", "email.send");
    let task: { id: string } | undefined;
    const deadline = Date.now() + 20_000;
    while (!task && Date.now() < deadline) {
      task = (await t.sluice.approvals.list(WS, { approvalType: "action" })).tasks.find((x) => x.run_id === id);
      if (!task) await new Promise((r) => setTimeout(r, 100));
    }
    expect(task, "an approval task for the action").toBeDefined();
    expect(await t.sluice.actions.executions({ workspace: WS, action: "email.send" })).toEqual([]);
    await t.sluice.approvals.decide({ actor: "key:boss", workspaceId: WS }, task!.id, true, "ok to send");
    await settled(id);
    // The SMTP server is unreachable on purpose: what matters is that the call was made once, after approval.
    const [execution] = await t.sluice.actions.executions({ workspace: WS, action: "email.send" });
    expect(execution).toMatchObject({ approved_by: "key:boss", idempotency_key: `${id}:create` });
  });
});
