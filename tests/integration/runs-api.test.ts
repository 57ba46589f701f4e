import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline, NonRetryableError } from "../../src/pipeline/runs/index.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/** The runs API over HTTP (app.inject) on the embedded default and on PostgreSQL + Redis (Redis logical database 18). */
for (const engine of embeddedAndServers("runsapi", 18)) {
  describe(`runs API on ${engine.name}`, () => {
    let t: TestSluice;
    const keys: Record<string, string> = {};
    const switches = new Set<string>();

    const call = (key: string | undefined, method: "GET" | "POST", url: string, payload?: unknown) =>
      t.app.inject({
        method,
        url,
        headers: key ? { authorization: `Bearer ${key}` } : {},
        ...(payload === undefined ? {} : { payload: payload as object }),
      });

    beforeAll(async () => {
      t = await startTestSluice(await engine.env());
      const { sluice } = t;
      sluice.pipeline(
        definePipeline({ name: "greet", input: z.object({ name: z.string() }) }, async (input, step) => {
          const greeting = await step.run("compose", () => `hello ${input.name}`);
          return { greeting };
        }),
      );
      sluice.pipeline(
        definePipeline({ name: "await-payment", input: z.object({ order: z.string() }) }, async (input, step) => {
          const paid = await step.waitForEvent("paid", { event: "order.paid", match: { order: input.order } });
          return { paid: paid?.payload ?? null };
        }),
      );
      sluice.pipeline(
        definePipeline({ name: "switchable", input: z.object({ key: z.string() }) }, async (input, step) => {
          await step.run("check", () => {
            if (!switches.has(input.key)) throw new NonRetryableError("off", "SWITCHED_OFF");
            return true;
          });
        }),
      );
      sluice.pipeline(
        definePipeline(
          { name: "nurture", input: z.object({ state: z.string() }), transitions: { active: ["at_risk"], at_risk: ["active", "churned"] } },
          async (input, step) => {
            await step.setState(input.state, "scored");
          },
        ),
      );
      await sluice.startWorkers({ concurrency: 4 });
      for (const ws of ["acme", "globex"]) await sluice.intake.ensureWorkspace(ws, ws);
      keys.write = (await sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["jobs:write", "jobs:read"] })).secret;
      keys.read = (await sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["jobs:read"] })).secret;
      keys.admin = (await sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["admin"] })).secret;
      keys.operator = (await sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["operator"] })).secret;
      keys.other = (await sluice.intake.createApiKey({ workspaceId: "globex", scopes: ["admin"] })).secret;
    });
    afterAll(async () => t?.close());

    it("starts a run idempotently and answers it settled with ?wait", async () => {
      const first = await call(keys.write, "POST", "/api/pipelines/greet/runs", {
        input: { name: "ada" },
        client_request_id: "g-1",
        tags: ["campaign:1"],
      });
      expect(first.statusCode).toBe(202);
      const { id } = first.json<{ id: string }>();
      const again = await call(keys.write, "POST", "/api/pipelines/greet/runs", { input: { name: "ada" }, client_request_id: "g-1" });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ id, duplicate: true });

      const run = (await call(keys.read, "GET", `/api/runs/${id}?wait=20`)).json<{
        status: string;
        output: unknown;
        steps: Array<{ name: string; attempts: number; duration_ms: number }>;
      }>();
      expect(run).toMatchObject({ status: "completed", output: { greeting: "hello ada" } });
      expect(run.steps).toMatchObject([{ name: "compose", attempts: 1 }]);

      const listed = (await call(keys.read, "GET", "/api/runs?tag=campaign:1&status=completed")).json<{ runs: Array<{ id: string }> }>();
      expect(listed.runs.map((r) => r.id)).toEqual([id]);
      expect(
        (await call(keys.read, "GET", "/api/pipelines")).json<{ pipelines: Array<{ name: string }> }>().pipelines.map((p) => p.name),
      ).toEqual(["await-payment", "greet", "nurture", "switchable"]);
    });

    it("refuses hostile input with stable codes and never shows another workspace's runs", async () => {
      expect((await call(undefined, "POST", "/api/pipelines/greet/runs", { input: {} })).statusCode).toBe(401);
      expect((await call(keys.read, "POST", "/api/pipelines/greet/runs", { input: { name: "x" } })).json()).toMatchObject({
        error: { code: "FORBIDDEN_SCOPE" },
      });
      const bad = await call(keys.write, "POST", "/api/pipelines/greet/runs", { input: { name: 5 } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
      expect((await call(keys.write, "POST", "/api/pipelines/nope/runs", { input: {} })).json()).toMatchObject({
        error: { code: "PIPELINE_NOT_FOUND" },
      });
      expect((await call(keys.write, "POST", "/api/pipelines/greet/runs", { input: { name: "x" }, tags: ["has space"] })).statusCode).toBe(
        400,
      );
      expect((await call(keys.read, "GET", "/api/runs/does-not-exist")).statusCode).toBe(404);
      expect((await call(keys.read, "GET", "/api/runs?status=bogus")).statusCode).toBe(400);
      expect((await call(keys.read, "GET", "/api/runs/x?wait=61")).statusCode).toBe(400);

      const { id } = (await call(keys.write, "POST", "/api/pipelines/greet/runs", { input: { name: "b" } })).json<{ id: string }>();
      const foreign = await call(keys.other, "GET", `/api/runs/${id}`);
      expect(foreign.statusCode).toBe(404);
      expect(foreign.json()).toMatchObject({ error: { code: "RUN_NOT_FOUND" } });
      expect((await call(keys.other, "POST", `/api/runs/${id}/cancel`, {})).statusCode).toBe(404);
      expect((await call(keys.other, "GET", "/api/runs?workspace=acme")).statusCode).toBe(404);
      expect((await call(keys.operator, "GET", `/api/runs/${id}`)).statusCode).toBe(200);
    });

    it("events resume waiting runs; cancel by tag (admin) stops a campaign", async () => {
      const start = (order: string, tags: string[] = []) =>
        call(keys.write, "POST", "/api/pipelines/await-payment/runs", { input: { order }, tags }).then((r) => r.json<{ id: string }>().id);
      const paid = await start("o-1");
      const waitingFor = async (id: string) => {
        for (let i = 0; i < 200 && (await call(keys.read, "GET", `/api/runs/${id}`)).json<{ status: string }>().status !== "waiting"; i++)
          await new Promise((r) => setTimeout(r, 50));
      };
      await waitingFor(paid);
      const event = await call(keys.write, "POST", "/api/events", { name: "order.paid", payload: { order: "o-1", amount: 10 } });
      expect(event.statusCode).toBe(202);
      expect(event.json()).toMatchObject({ matched: 1, runs: [paid] });
      expect((await call(keys.read, "GET", `/api/runs/${paid}?wait=20`)).json()).toMatchObject({
        status: "completed",
        output: { paid: { order: "o-1", amount: 10 } },
      });

      const campaign = [await start("o-2", ["campaign:9"]), await start("o-3", ["campaign:9"])];
      expect((await call(keys.write, "POST", "/api/runs/cancel", { tag: "campaign:9" })).statusCode).toBe(403);
      const cancelled = await call(keys.admin, "POST", "/api/runs/cancel", { tag: "campaign:9", reason: "Client requested no contact" });
      expect(cancelled.json()).toMatchObject({ cancelled: 2 });
      for (const id of campaign)
        expect((await call(keys.read, "GET", `/api/runs/${id}`)).json()).toMatchObject({
          status: "cancelled",
          error: { code: "RUN_CANCELLED", message: "Client requested no contact" },
        });
      expect((await call(keys.admin, "POST", `/api/runs/${campaign[0]}/cancel`, {})).statusCode).toBe(409);
      expect((await call(keys.admin, "POST", "/api/events", { name: "bad name!" })).statusCode).toBe(400);
    });

    it("replays a failed run from its failed step", async () => {
      const { id } = (await call(keys.write, "POST", "/api/pipelines/switchable/runs", { input: { key: "k1" } })).json<{ id: string }>();
      expect((await call(keys.read, "GET", `/api/runs/${id}?wait=20`)).json()).toMatchObject({
        status: "failed",
        failed_step: "check",
        error: { code: "SWITCHED_OFF" },
      });
      switches.add("k1");
      expect((await call(keys.write, "POST", `/api/runs/${id}/replay`, {})).statusCode).toBe(403);
      expect((await call(keys.admin, "POST", `/api/runs/${id}/replay`, { from_step: "nope" })).json()).toMatchObject({
        error: { code: "STEP_NOT_FOUND" },
      });
      expect((await call(keys.admin, "POST", `/api/runs/${id}/replay`, { from_step: "check" })).statusCode).toBe(202);
      expect((await call(keys.read, "GET", `/api/runs/${id}?wait=20`)).json()).toMatchObject({ status: "completed" });
    });

    it("streams a run's progress as Server-Sent Events", async () => {
      const { id } = (await call(keys.write, "POST", "/api/pipelines/greet/runs", { input: { name: "sse" } })).json<{ id: string }>();
      const stream = await call(keys.read, "GET", `/api/runs/${id}/events`);
      expect(stream.headers["content-type"]).toContain("text/event-stream");
      const events = stream.body
        .split("\n\n")
        .filter(Boolean)
        .map((block) => block.split("\n")[0]?.replace("event: ", ""));
      expect(events).toContain("step");
      expect(events.at(-1)).toBe("end");
      expect(stream.body).toContain('"status":"completed"');
    });

    it("entity rerun (admin) and forced state (operator, audited, rules unless bypassed)", async () => {
      const { id } = (
        await call(keys.write, "POST", "/api/pipelines/nurture/runs", { input: { state: "active" }, entity_key: "client-7" })
      ).json<{ id: string }>();
      await call(keys.read, "GET", `/api/runs/${id}?wait=20`);
      expect((await call(keys.read, "GET", "/api/entities/nurture/client-7")).json()).toMatchObject({ state: "active" });

      const rerun = await call(keys.admin, "POST", "/api/entities/nurture/client-7/rerun", {});
      expect(rerun.statusCode).toBe(202);
      expect((await call(keys.read, "GET", `/api/runs/${rerun.json<{ id: string }>().id}?wait=20`)).json()).toMatchObject({
        status: "completed",
        input: { state: "active" },
      });
      expect((await call(keys.admin, "POST", "/api/entities/nurture/nobody/rerun", {})).json()).toMatchObject({
        error: { code: "ENTITY_NOT_FOUND" },
      });

      const body = { state: "churned", reason: "Manual intervention by ops team", bypass_rules: false };
      expect((await call(keys.admin, "POST", "/api/entities/nurture/client-7/state", body)).statusCode).toBe(403);
      const refused = await call(keys.operator, "POST", "/api/entities/nurture/client-7/state", body);
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ error: { code: "STATE_TRANSITION_NOT_ALLOWED" } });
      const forced = await call(keys.operator, "POST", "/api/entities/nurture/client-7/state", { ...body, bypass_rules: true });
      expect(forced.json()).toMatchObject({ from: "active", to: "churned", bypass_rules: true });
      expect((await call(keys.operator, "POST", "/api/entities/nurture/client-7/state", { state: "x" })).statusCode).toBe(400);
      const [entry] = await t.sluice.audit.list({ action: "entity.set_state" });
      expect(entry).toMatchObject({
        workspace_id: "acme",
        reason: "Manual intervention by ops team",
        details: { before: "active", after: "churned", bypass_rules: true },
      });
    });
  });
}
