import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { SluiceError } from "../../src/core/errors.ts";
import { defineAction } from "../../src/pipeline/actions/index.ts";
import { sampleValue } from "../harness/metrics.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/** sluice_actions_executed_total{action,outcome} and sluice_action_duration_seconds{action}, read from /metrics. */
describe("action metrics", () => {
  let t: TestSluice;
  let admin: string;

  beforeAll(async () => {
    t = await startTestSluice({ ACTIONS_ENABLED: "true", ALLOW_ACTIONS_DEFAULT: "m.ok,m.fail" });
    await t.sluice.intake.ensureWorkspace("ws-am", "Metrics");
    admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-am", scopes: ["admin"] })).secret;
    t.sluice.action(defineAction({ name: "m.ok", args: z.object({}), execute: async () => ({ ok: true }) }));
    t.sluice.action(
      defineAction({
        name: "m.fail",
        args: z.object({}),
        execute: async () => Promise.reject(new SluiceError("ACTION_FAILED", "target said no", { retryable: false })),
      }),
    );
    t.sluice.action(defineAction({ name: "m.denied", args: z.object({}), execute: async () => ({ ok: true }) }));
  });
  afterAll(async () => t?.close());

  it("counts each outcome per action and times the calls", async () => {
    const run = (action: string, key: string) =>
      t.sluice.actions.executor.execute({ workspace: "ws-am", action, args: {}, idempotencyKey: key, actor: "test" });
    expect((await run("m.ok", "k1")).status).toBe("succeeded");
    expect((await run("m.ok", "k2")).status).toBe("succeeded");
    expect((await run("m.fail", "k3")).status).toBe("failed");
    await expect(run("m.denied", "k4")).rejects.toMatchObject({ code: "ACTION_NOT_ALLOWED" });
    const text = (await t.app.inject({ method: "GET", url: "/metrics", headers: { authorization: `Bearer ${admin}` } })).body;
    expect(sampleValue(text, "sluice_actions_executed_total", 'action="m.ok",outcome="succeeded"')).toBe(2);
    expect(sampleValue(text, "sluice_actions_executed_total", 'action="m.fail",outcome="failed"')).toBe(1);
    expect(sampleValue(text, "sluice_actions_executed_total", 'action="m.denied",outcome="refused"')).toBe(1);
    expect(sampleValue(text, "sluice_action_duration_seconds_count", 'action="m.ok"')).toBe(2);
  });
});
