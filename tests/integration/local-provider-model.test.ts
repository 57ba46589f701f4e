import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_COMPLETION_MODEL } from "../../src/adapters/provider/local/provider.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/** Issue 11: the offline provider was reported as AI_MODEL (gpt-4o-mini) though its rules answered. */
describe("the local provider reports the model that answered", () => {
  let t: TestSluice;
  let key: string;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    t = await startTestSluice({ AI_PROVIDER: "local" });
    await t.sluice.startWorkers();
    await t.sluice.intake.ensureWorkspace("ws", "WS", { rateLimitPerMinute: 10_000 });
    key = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["admin", "operator"] })).secret;
  });
  afterAll(async () => {
    await t.close();
  });

  it("in served_by, usage, metrics and /health/llm, for AI_MODEL and for a job naming gpt-4o-mini", async () => {
    expect(t.sluice.config.ai.model).toBe("gpt-4o-mini"); // the default AI_MODEL is still accepted
    const submitted = await t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: auth(),
      payload: {
        type: "llm.complete",
        input: { prompt: "Summarise: shoes ship worldwide.", model: "gpt-4o-mini" },
        client_request_id: "m1",
      },
    });
    expect(submitted.statusCode, submitted.body).toBe(202);
    const id = submitted.json<{ id: string }>().id;
    let job: { status: string; result?: { served_by?: unknown } } = { status: "" };
    for (
      const deadline = Date.now() + 30_000;
      job.status !== "completed" && Date.now() < deadline;
      await new Promise((r) => setTimeout(r, 100))
    ) {
      job = (await t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: auth() })).json();
    }
    expect(job.result?.served_by).toEqual({ provider: "local", model: LOCAL_COMPLETION_MODEL });

    const usage = (await t.app.inject({ method: "GET", url: "/api/usage?days=1", headers: auth() })).body;
    expect(usage).toContain(LOCAL_COMPLETION_MODEL);
    expect(usage).not.toContain("gpt-4o-mini");

    const llm = (await t.app.inject({ method: "GET", url: "/health/llm", headers: auth() })).json<{
      primary: unknown;
      breakers: Array<{ model: string }>;
    }>();
    expect(llm.primary).toEqual({ provider: "local", model: LOCAL_COMPLETION_MODEL });
    expect(llm.breakers.map((b) => b.model)).toEqual([LOCAL_COMPLETION_MODEL]);

    const metrics = (await t.app.inject({ method: "GET", url: "/metrics", headers: auth() })).body;
    expect(metrics).toMatch(new RegExp(`provider="local",model="${LOCAL_COMPLETION_MODEL}"`));
    expect(metrics).not.toMatch(/provider="local",model="gpt-4o-mini"/);
  });
});
