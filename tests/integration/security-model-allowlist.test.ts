import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

describe("a job names only configured models and providers", () => {
  let t: TestSluice;
  let key: string;
  const submit = (input: Record<string, unknown>, id: string, type = "llm.complete") =>
    t.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      payload: JSON.stringify({ type, input, client_request_id: id }),
    });

  beforeAll(async () => {
    t = await startTestSluice({ AI_MODELS: "house-model", AI_PRICES: "local/priced-model=0:0" });
    await t.sluice.intake.ensureWorkspace("ws-m", "M", { rateLimitPerMinute: 10_000 });
    key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-m", scopes: ["jobs:write"] })).secret;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("refuses an unknown model with 400 MODEL_NOT_ALLOWED, for every built-in task", async () => {
    for (const [type, input] of [
      ["llm.complete", { prompt: "hi", model: "model-0001" }],
      ["embed", { text: "hi", model: "model-0002" }],
      ["classify", { text: "hi", model: "model-0003" }],
    ] as const) {
      const res = await submit(input, `unknown-${type}`, type);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: "MODEL_NOT_ALLOWED" } });
    }
    const provider = await submit({ prompt: "hi", provider: "nope" }, "unknown-provider");
    expect(provider.json()).toMatchObject({ error: { code: "PROVIDER_NOT_CONFIGURED" } });
  });

  it("accepts the configured ones: AI_MODEL, AI_MODELS, models priced in AI_PRICES", async () => {
    for (const model of [t.sluice.config.ai.model, "house-model", "priced-model"])
      expect((await submit({ prompt: "hi", model }, `ok-${model}`)).statusCode).toBe(202);
  });

  it("keeps /metrics and /ready the same size under a flood of made-up models", async () => {
    const before = (await t.app.inject({ method: "GET", url: "/metrics" })).body.split("\n").length;
    const ready = (await t.app.inject({ method: "GET", url: "/ready" })).body.length;
    await Promise.all(Array.from({ length: 200 }, (_, i) => submit({ prompt: "hi", model: `flood-${i}` }, `flood-${i}`)));
    const after = (await t.app.inject({ method: "GET", url: "/metrics" })).body.split("\n").filter((l) => l.includes("flood-")).length;
    expect(after).toBe(0);
    expect((await t.app.inject({ method: "GET", url: "/metrics" })).body.split("\n").length).toBeLessThan(before + 50);
    expect((await t.app.inject({ method: "GET", url: "/ready" })).body.length).toBeLessThan(ready + 500);
  });
});

describe("internal queues are not for tenants", () => {
  it("refuses a job for ai-batch-queue at intake with 400, and queues nothing there", async () => {
    const t = await startTestSluice();
    try {
      await t.sluice.intake.ensureWorkspace("ws-i", "I");
      const key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-i", scopes: ["jobs:write"] })).secret;
      const before = (await t.sluice.queues.counts("ai-batch-queue")).total;
      const res = await t.app.inject({
        method: "POST",
        url: "/ai/jobs",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        payload: JSON.stringify({ type: "classify", input: { text: "x" }, client_request_id: "internal-1", queue: "ai-batch-queue" }),
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
      expect((await t.sluice.queues.counts("ai-batch-queue")).total).toBe(before);
    } finally {
      await t.close();
    }
  });
});
