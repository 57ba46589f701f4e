import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { SluiceError } from "../../../src/core/errors.ts";
import { definePipeline, NonRetryableError, type RunView } from "../../../src/pipeline/runs/index.ts";
import type { Sluice } from "../../../src/sluice.ts";
import { sampleValue } from "../../harness/metrics.ts";
import { startTestSluice, type TestSluice } from "../../harness/sluice.ts";
import { until } from "../../harness/wait.ts";

/** A set-up the runs suite runs on: the env of a Sluice with one of the three queue backends. */
export interface RunsTarget {
  name: string;
  env(): Promise<Record<string, string>>;
}

const WS = "acme";
const settled = (r: RunView) => ["completed", "failed", "cancelled"].includes(r.status);

/** Side effects counted outside the engine: how often each step body really ran, per run. */
class Ledger {
  readonly counts = new Map<string, number>();
  hit(runId: string, step: string): number {
    const key = `${runId}/${step}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n;
  }
  count(runId: string, step: string): number {
    return this.counts.get(`${runId}/${step}`) ?? 0;
  }
}

function registerPipelines(sluice: Sluice, ledger: Ledger, switches: Map<string, boolean>): void {
  sluice.task("upper", async (input: { text: string }) => ({ text: input.text.toUpperCase() }), { input: z.object({ text: z.string() }) });
  sluice.pipeline(
    definePipeline({ name: "memo", input: z.object({ text: z.string() }) }, async (input, step) => {
      const a = await step.run("a", () => ({ n: ledger.hit(step.runId, "a") }));
      const upper = await step.task<{ text: string }>("upper", "upper", { text: input.text });
      await step.sleep("nap", 300);
      const b = await step.run("b", () => ({ n: ledger.hit(step.runId, "b") }));
      return { a: a.n, b: b.n, upper: upper.text };
    }),
  );
  sluice.pipeline(
    definePipeline({ name: "twice", input: z.object({}) }, async (_input, step) => {
      await step.run("same", () => 1);
      await step.run("same", () => 2);
    }),
  );
  sluice.pipeline(
    definePipeline(
      { name: "flaky", input: z.object({ failures: z.number(), attempts: z.number() }), retry: { backoffMs: 50 } },
      async (input, step) => {
        return step.run(
          "call",
          () => {
            const n = ledger.hit(step.runId, "call");
            if (n <= input.failures) throw new Error(`try ${n} failed`);
            return { tries: n };
          },
          { retry: { maxAttempts: input.attempts } },
        );
      },
    ),
  );
  sluice.pipeline(
    definePipeline({ name: "fatal", input: z.object({}) }, async (_input, step) => {
      await step.run("doomed", () => {
        ledger.hit(step.runId, "doomed");
        throw new NonRetryableError("no point trying again", "BAD_TICKET");
      });
    }),
  );
  sluice.pipeline(
    definePipeline({ name: "waiter", input: z.object({ order: z.string(), timeoutMs: z.number().optional() }) }, async (input, step) => {
      const event = await step.waitForEvent("paid", { event: "order.paid", match: { "order.id": input.order } }, input.timeoutMs);
      return { event };
    }),
  );
  // The race: the event is sent (by a step running beside the wait) while the wait step is being reached.
  sluice.pipeline(
    definePipeline({ name: "racer", input: z.object({ order: z.string() }) }, async (input, step) => {
      const [event, sent] = await Promise.all([
        step.waitForEvent("paid", { event: "order.raced", match: { order: input.order } }, "20s"),
        step.run("announce", () => sluice.runs.sendEvent(step.workspace, "order.raced", { order: input.order })),
      ]);
      return { event, sent };
    }),
  );
  sluice.pipeline(
    definePipeline({ name: "replayable", input: z.object({ key: z.string() }) }, async (input, step) => {
      await step.run("first", () => ledger.hit(step.runId, "first"));
      const second = await step.run("second", () => {
        ledger.hit(step.runId, "second");
        if (!switches.get(input.key)) throw new NonRetryableError("switched off", "SWITCHED_OFF");
        return "ok";
      });
      return { second };
    }),
  );
  sluice.pipeline(
    definePipeline(
      {
        name: "lifecycle",
        input: z.object({ to: z.array(z.string()) }),
        transitions: { new: ["active"], active: ["at_risk", "churned"], at_risk: ["active", "churned"] },
      },
      async (input, step) => {
        for (const state of input.to) await step.setState(state, `moved to ${state}`);
      },
    ),
  );
  sluice.pipeline(
    definePipeline({ name: "gated", input: z.object({ amount: z.number() }) }, async (input, step) => {
      return step.approval("sign-off", { approvalType: "refund", payload: input });
    }),
  );
  sluice.pipeline(
    definePipeline({ name: "acting", input: z.object({ title: z.string(), action: z.string() }) }, async (input, step) => {
      return step.action("make-task", input.action, { title: input.title });
    }),
  );
}

export function runsConformance(target: RunsTarget): void {
  describe(`pipeline runs on ${target.name}`, () => {
    let t: TestSluice;
    const ledger = new Ledger();
    const switches = new Map<string, boolean>();
    const start = (pipeline: string, input: unknown, extra: { entityKey?: string; tags?: string[]; clientRequestId?: string } = {}) =>
      t.sluice.runs.start({ pipeline, workspace: WS, input, ...extra });
    const settle = (id: string, timeoutMs = 20_000) => until(() => t.sluice.runs.get(id), settled, timeoutMs, `run ${id} settled`);
    const operator = { actor: "key:test", workspace: WS };

    beforeAll(async () => {
      // task.create is allowed and needs a person's approval first; nothing else is allowed.
      t = await startTestSluice({
        ...(await target.env()),
        ACTIONS_ENABLED: "true",
        ALLOW_ACTIONS_DEFAULT: "task.create",
        ACTIONS_REQUIRE_APPROVAL: "task.create",
      });
      registerPipelines(t.sluice, ledger, switches);
      await t.sluice.startWorkers({ concurrency: 4 });
    });
    afterAll(async () => t?.close());

    it("memoises: each step body runs once although the function runs again after its sleep", async () => {
      const { id } = await start("memo", { text: "hi" });
      const run = await settle(id);
      expect(run.status).toBe("completed");
      expect(run.output).toEqual({ a: 1, b: 1, upper: "HI" });
      expect(ledger.count(id, "a")).toBe(1);
      expect(run.steps?.map((s) => [s.name, s.kind, s.status, s.attempts])).toEqual([
        ["a", "run", "completed", 1],
        ["upper", "task", "completed", 1],
        ["nap", "sleep", "completed", 1],
        ["b", "run", "completed", 1],
      ]);
      expect(run.steps?.every((s) => s.duration_ms !== null && s.duration_ms >= 0)).toBe(true);
    });

    it("starts once per client_request_id, and checks the input", async () => {
      const first = await start("memo", { text: "x" }, { clientRequestId: "req-1" });
      const again = await start("memo", { text: "x" }, { clientRequestId: "req-1" });
      expect(first.created).toBe(true);
      expect(again).toMatchObject({ id: first.id, created: false });
      await expect(start("memo", { text: 5 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
      await expect(start("nope", {})).rejects.toMatchObject({ code: "PIPELINE_NOT_FOUND" });
      await settle(first.id);
    });

    it("fails a run that repeats a step name with RUN_NONDETERMINISTIC", async () => {
      const { id } = await start("twice", {});
      const run = await settle(id);
      expect(run).toMatchObject({ status: "failed", failed_step: "same", error: { code: "RUN_NONDETERMINISTIC" } });
    });

    it("retries a step by its own policy, and shows a failure as the failed step with its error", async () => {
      const ok = await settle((await start("flaky", { failures: 2, attempts: 3 })).id);
      expect(ok.status).toBe("completed");
      expect(ok.output).toEqual({ tries: 3 });
      expect(ok.steps?.[0]).toMatchObject({ name: "call", attempts: 3, status: "completed" });

      const spent = await settle((await start("flaky", { failures: 5, attempts: 2 })).id);
      expect(spent).toMatchObject({ status: "failed", failed_step: "call", error: { code: "STEP_FAILED", message: "try 2 failed" } });
      expect(spent.steps?.[0]).toMatchObject({ attempts: 2, status: "failed" });
      expect(ledger.count(spent.id, "call")).toBe(2);

      const fatal = await settle((await start("fatal", {})).id);
      expect(fatal).toMatchObject({ status: "failed", failed_step: "doomed", error: { code: "BAD_TICKET" } });
      expect(ledger.count(fatal.id, "doomed")).toBe(1);
    });

    it("a sleeping or waiting run holds no worker", async () => {
      const { id } = await start("waiter", { order: "o-idle" });
      await until(
        () => t.sluice.runs.get(id),
        (r) => r.status === "waiting",
        20_000,
        "waiting",
      );
      const counts = await t.sluice.queues.counts(t.sluice.runs.queue);
      expect(counts.active).toBe(0);
      await t.sluice.runs.cancel(id, operator, "cleanup");
    });

    it("waitForEvent: only a matching event resumes the run, with its payload", async () => {
      const { id } = await start("waiter", { order: "o-1" });
      await until(
        () => t.sluice.runs.get(id),
        (r) => r.status === "waiting",
        20_000,
        "waiting",
      );
      expect((await t.sluice.runs.sendEvent(WS, "order.paid", { order: { id: "o-2" } })).matched).toBe(0);
      expect((await t.sluice.runs.sendEvent("other-ws", "order.paid", { order: { id: "o-1" } })).matched).toBe(0);
      expect((await t.sluice.runs.sendEvent(WS, "order.paid", { order: { id: "o-1" }, amount: 3 })).matched).toBe(1);
      const run = await settle(id);
      expect(run.output).toEqual({ event: { name: "order.paid", payload: { order: { id: "o-1" }, amount: 3 } } });
    });

    it("waitForEvent times out to null", async () => {
      const run = await settle((await start("waiter", { order: "o-late", timeoutMs: 300 })).id);
      expect(run).toMatchObject({ status: "completed", output: { event: null } });
      expect((await t.sluice.runs.sendEvent(WS, "order.paid", { order: { id: "o-late" } })).matched).toBe(0);
    });

    it("waitForEvent sees an event sent after the step was reached but before its wait was written; never one sent before", async () => {
      // Many at once, so the store answers the send before the wait's own queries in some of them.
      const orders = Array.from({ length: 12 }, (_, i) => `r-${i}`);
      const raced = await Promise.all(orders.map((order) => start("racer", { order })));
      for (const [i, { id }] of raced.entries()) {
        const run = await settle(id, 30_000);
        expect(run.status).toBe("completed");
        const output = run.output as { event: unknown; sent: { id: number } };
        expect(output.event).toEqual({ name: "order.raced", payload: { order: orders[i] } });
        // The wait is dated when the function called it, before the send beside it began (the database's clock).
        const { rows } = await t.sluice.store.query<{ created_at: Date }>("SELECT created_at FROM pipeline_events WHERE id = $1", [
          output.sent.id,
        ]);
        const reached = run.steps?.find((s) => s.name === "paid")?.started_at;
        expect(reached?.getTime()).toBeLessThanOrEqual(rows[0]?.created_at.getTime() ?? 0);
      }
      await t.sluice.runs.sendEvent(WS, "order.paid", { order: { id: "early-1" } });
      const late = await settle((await start("waiter", { order: "early-1", timeoutMs: 500 })).id);
      expect(late).toMatchObject({ status: "completed", output: { event: null } });
    });

    it("cancels one run, and every run with a tag", async () => {
      const one = await start("waiter", { order: "c-1" });
      await until(
        () => t.sluice.runs.get(one.id),
        (r) => r.status === "waiting",
        20_000,
        "waiting",
      );
      expect((await t.sluice.runs.cancel(one.id, operator, "no longer needed")).status).toBe("cancelled");
      await expect(t.sluice.runs.cancel(one.id, operator, null)).rejects.toMatchObject({ code: "CONFLICT" });
      expect((await t.sluice.runs.sendEvent(WS, "order.paid", { order: { id: "c-1" } })).matched).toBe(0);

      const tagged = await Promise.all(["c-2", "c-3", "c-4"].map((order) => start("waiter", { order }, { tags: ["campaign:7"] })));
      const untagged = await start("waiter", { order: "c-5" }, { tags: ["campaign:8"] });
      const result = await t.sluice.runs.cancelByTag("campaign:7", operator, "Client requested no contact");
      expect(result.cancelled).toBe(3);
      for (const { id } of tagged) expect((await t.sluice.runs.get(id)).status).toBe("cancelled");
      expect((await t.sluice.runs.get(untagged.id)).status).not.toBe("cancelled");
      await t.sluice.runs.cancel(untagged.id, operator, "cleanup");
      const audit = await t.sluice.audit.list({ workspaceId: WS, action: "run.cancel_by_tag" });
      expect(audit[0]).toMatchObject({
        target: "campaign:7",
        reason: "Client requested no contact",
        details: { cancelled: 3, outcome: "succeeded" },
      });
    });

    it("replays a failed run from its failed step; earlier steps keep their results", async () => {
      const { id } = await start("replayable", { key: "r-1" });
      const failed = await settle(id);
      expect(failed).toMatchObject({ status: "failed", failed_step: "second", error: { code: "SWITCHED_OFF" } });
      switches.set("r-1", true);
      await t.sluice.runs.replay(id, operator);
      const done = await settle(id);
      expect(done).toMatchObject({ status: "completed", output: { second: "ok" } });
      expect(ledger.count(id, "first")).toBe(1);
      expect(ledger.count(id, "second")).toBe(2);
      await t.sluice.runs.replay(id, operator, "first");
      await settle(id);
      expect(ledger.count(id, "first")).toBe(2);
      await expect(t.sluice.runs.replay(id, operator, "nope")).rejects.toMatchObject({ code: "STEP_NOT_FOUND" });
    });

    it("entity state follows the declared transitions; a forced one bypasses them and is audited", async () => {
      const ok = await settle((await start("lifecycle", { to: ["new", "active"] }, { entityKey: "client-1" })).id);
      expect(ok.status).toBe("completed");
      expect((await t.sluice.runs.entityState("lifecycle", "client-1", WS)).state).toBe("active");
      const bad = await settle((await start("lifecycle", { to: ["new"] }, { entityKey: "client-1" })).id);
      expect(bad).toMatchObject({ status: "failed", failed_step: "setState#1", error: { code: "STATE_TRANSITION_NOT_ALLOWED" } });

      await expect(
        t.sluice.runs.setEntityState("lifecycle", "client-1", operator, { state: "new", reason: "ops", bypassRules: false }),
      ).rejects.toBeInstanceOf(SluiceError);
      const forced = await t.sluice.runs.setEntityState("lifecycle", "client-1", operator, {
        state: "new",
        reason: "Manual intervention by ops team",
        bypassRules: true,
      });
      expect(forced).toMatchObject({ from: "active", to: "new" });
      const view = await t.sluice.runs.entityState("lifecycle", "client-1", WS);
      expect(view.state).toBe("new");
      expect(view.transitions[0]).toMatchObject({ from_state: "active", to_state: "new", bypass_rules: true, actor: "key:test" });
      const [audit] = await t.sluice.audit.list({ workspaceId: WS, action: "entity.set_state" });
      expect(audit).toMatchObject({
        reason: "Manual intervention by ops team",
        details: { before: "active", after: "new", outcome: "succeeded" },
      });

      const rerun = await t.sluice.runs.rerunEntity("lifecycle", "client-1", operator);
      // Its latest run's input again (["new"]): staying in a state is always allowed.
      expect(rerun.id).not.toBe(bad.id);
      expect(await settle(rerun.id)).toMatchObject({ status: "completed", entity_key: "client-1", input: { to: ["new"] } });
    });

    const approvalOf = async (runId: string) => {
      const inbox = await t.sluice.approvals.list(WS, {});
      const task = inbox.tasks.find((x) => x.run_id === runId);
      if (!task) throw new Error(`no approval task for run ${runId}`);
      return task;
    };

    it("an approval step waits, holding no worker, until a person decides; the decision is its result", async () => {
      const { id } = await start("gated", { amount: 40 });
      await until(
        () => t.sluice.runs.get(id),
        (r) => r.status === "waiting",
        20_000,
        "waiting",
      );
      const task = await approvalOf(id);
      expect(task).toMatchObject({ approval_type: "refund", step_name: "sign-off", payload: { amount: 40 }, status: "pending" });
      expect((await t.sluice.queues.counts(t.sluice.runs.queue)).active).toBe(0);
      await t.sluice.approvals.decide({ actor: "key:test", workspaceId: WS }, task.id, true, "within policy");
      const run = await settle(id);
      expect(run).toMatchObject({ status: "completed", output: { approved: true, decided_by: "key:test", reason: "within policy" } });
    });

    it("cancelling runs (one, or by tag) closes their pending approval tasks as expired, 'run cancelled', audited", async () => {
      const one = await start("gated", { amount: 1 });
      const tagged = await Promise.all([2, 3].map((amount) => start("gated", { amount }, { tags: ["campaign:hitl"] })));
      for (const { id } of [one, ...tagged])
        await until(
          () => t.sluice.runs.get(id),
          (r) => r.status === "waiting",
          20_000,
          "waiting on approval",
        );
      const tasks = await Promise.all([one, ...tagged].map(({ id }) => approvalOf(id)));
      // The gauge as Prometheus scrapes it (app.inject comes from loopback, which may read /metrics).
      const pendingGauge = async () =>
        sampleValue((await t.app.inject({ method: "GET", url: "/metrics" })).body, "hitl_tasks_pending", 'approval_type="refund"');
      const pendingBefore = await pendingGauge();
      expect(pendingBefore).toBeGreaterThanOrEqual(tasks.length);
      await t.sluice.runs.cancel(one.id, operator, "not needed");
      await t.sluice.runs.cancelByTag("campaign:hitl", operator, "campaign stopped");
      const pending = await t.sluice.approvals.list(WS, { status: ["pending", "escalated"] });
      expect(pending.tasks.filter((x) => tasks.some((task) => task.id === x.id))).toEqual([]);
      for (const task of tasks)
        expect(await t.sluice.approvals.get(WS, task.id)).toMatchObject({
          status: "expired",
          reason: "run cancelled",
          decided_by: "key:test",
        });
      const audit = await t.sluice.audit.list({ workspaceId: WS, action: "approval.withdraw" });
      expect(audit.map((a) => a.target).sort()).toEqual(expect.arrayContaining(tasks.map((task) => task.id).sort()));
      expect(await pendingGauge(), "hitl_tasks_pending{approval_type=refund} after the cancels").toBe((pendingBefore ?? 0) - tasks.length);
    });

    it("an action step asks for approval first when the policy says so, then runs once; a refused action fails the step", async () => {
      const { id } = await start("acting", { title: "call the client", action: "task.create" });
      await until(
        () => t.sluice.runs.get(id),
        (r) => r.status === "waiting",
        20_000,
        "waiting for the action's approval",
      );
      const task = await approvalOf(id);
      expect(task.step_name).toBe("make-task:approval");
      await t.sluice.approvals.decide({ actor: "key:lead", workspaceId: WS }, task.id, true, "ok");
      const run = await settle(id);
      expect(run.status).toBe("completed");
      expect(run.steps?.map((s) => [s.name, s.status])).toEqual([
        ["make-task:approval", "completed"],
        ["make-task", "completed"],
      ]);
      const executions = await t.sluice.actions.executions({ workspace: WS });
      expect(executions.filter((e) => e.idempotency_key === `${id}:make-task`)).toHaveLength(1);

      const refused = await settle((await start("acting", { title: "x", action: "webhook.post" })).id);
      expect(refused).toMatchObject({ status: "failed", failed_step: "make-task" });
      expect(refused.error?.code).toMatch(/^ACTION_/);
    });
  });
}
