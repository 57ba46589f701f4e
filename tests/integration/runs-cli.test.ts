import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { runCliAsync } from "../harness/cli.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * `sluice runs ...` and `sluice entities ...` (the real command, over a real socket) against an
 * embedded Sluice in this process that registers the pipelines: the runbook rows for seed 003
 * §2.1, §2.2 and §2.4 run these commands.
 */
describe("sluice runs and entities commands", () => {
  let t: TestSluice;
  let env: Record<string, string>;
  let operatorEnv: Record<string, string>;
  const cli = async (args: string[], asOperator = false) => {
    const result = await runCliAsync(args, asOperator ? operatorEnv : env);
    return result;
  };

  beforeAll(async () => {
    t = await startTestSluice();
    t.sluice.pipeline(
      definePipeline({ name: "winback", input: z.object({ client: z.string() }) }, async (input, step) => {
        await step.waitForEvent("reply", { event: "client.replied", match: { client: input.client } });
      }),
    );
    t.sluice.pipeline(
      definePipeline(
        { name: "churn", input: z.object({ score: z.number() }), transitions: { healthy: ["at_risk"], at_risk: ["healthy"] } },
        async (input, step) => {
          await step.run("score", () => input.score);
          await step.setState(input.score > 50 ? "at_risk" : "healthy", "scored");
        },
      ),
    );
    await t.sluice.startWorkers({ concurrency: 2 });
    await t.sluice.intake.ensureWorkspace("acme", "Acme");
    const url = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const admin = (await t.sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["admin"] })).secret;
    const operator = (await t.sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["operator"] })).secret;
    env = { SLUICE_URL: url, SLUICE_API_KEY: admin };
    operatorEnv = { SLUICE_URL: url, SLUICE_API_KEY: operator };
  });
  afterAll(async () => t?.close());

  it("runs list, show, cancel --tag (a campaign), cancel, replay", async () => {
    const ids: string[] = [];
    for (const client of ["c1", "c2", "c3"])
      ids.push(
        (
          await t.sluice.runs.start({
            pipeline: "winback",
            workspace: "acme",
            input: { client },
            tags: [client === "c3" ? "campaign:2" : "campaign:1"],
          })
        ).id,
      );
    const list = await cli(["runs", "list", "--tag", "campaign:1"]);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toContain(ids[0]);
    expect(list.stdout).not.toContain(ids[2]);

    const cancel = await cli(["runs", "cancel", "--tag", "campaign:1", "--reason", "Client requested no contact"]);
    expect(cancel.stdout).toContain("Cancelled 2 run(s) tagged campaign:1.");
    const show = await cli(["runs", "show", ids[0] ?? "", "--json"]);
    expect(JSON.parse(show.stdout)).toMatchObject({ status: "cancelled", error: { code: "RUN_CANCELLED" } });

    const one = await cli(["runs", "cancel", ids[2] ?? ""]);
    expect(one.stdout).toContain("is cancelled");
    const again = await cli(["runs", "cancel", ids[2] ?? ""]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("CONFLICT");

    const replay = await cli(["runs", "replay", ids[2] ?? ""]);
    expect(replay.status, replay.stderr).toBe(0);
    expect(replay.stdout).toContain("again");
    expect((await t.sluice.runs.get(ids[2] ?? "")).status).not.toBe("cancelled");
    expect((await cli(["runs", "show", "missing-run"])).stderr).toContain("RUN_NOT_FOUND");
  });

  it("entities show, rerun and set-state (operator; reason required; rules unless --bypass-rules)", async () => {
    const { id } = await t.sluice.runs.start({ pipeline: "churn", workspace: "acme", input: { score: 80 }, entityKey: "client-9" });
    await t.sluice.runs.waitFor(id, "acme", 20_000);
    const show = await cli(["entities", "show", "churn", "client-9"]);
    expect(show.stdout).toContain("State: at_risk");

    const rerun = await cli(["entities", "rerun", "churn", "client-9"]);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/Started run \S+/);

    expect((await cli(["entities", "set-state", "churn", "client-9", "healthy"], true)).status).not.toBe(0); // --reason is required
    const asAdmin = await cli(["entities", "set-state", "churn", "client-9", "churned", "--reason", "ops"]);
    expect(asAdmin.stderr).toContain("FORBIDDEN_SCOPE");
    const refused = await cli(["entities", "set-state", "churn", "client-9", "churned", "--reason", "ops"], true);
    expect(refused.stderr).toContain("STATE_TRANSITION_NOT_ALLOWED");
    const forced = await cli(
      ["entities", "set-state", "churn", "client-9", "churned", "--reason", "Manual intervention by ops team", "--bypass-rules"],
      true,
    );
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toContain("churn/client-9: at_risk -> churned");
  });
});
