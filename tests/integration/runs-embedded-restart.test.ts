import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { createSluice, type Sluice } from "../../src/sluice.ts";
import { newEmbeddedDataDir } from "../harness/pglite-template.ts";
import { until } from "../harness/wait.ts";

/**
 * An embedded data folder stopped and started again (what `sluice dev` meets on every restart) with
 * a run waiting on an approval, a run sleeping and a schedule: all resume on the new process — the
 * approval decided after the restart completes its run, the sleep wakes, and the schedule (declared
 * before the restart only) fires again.
 */
const WS = "ws-restart";

async function open(dataDir: string): Promise<Sluice> {
  const sluice = await createSluice({ env: { LOG_LEVEL: "silent", SLUICE_DATA_DIR: dataDir } });
  sluice.pipeline(
    definePipeline({ name: "gated", input: z.object({}) }, async (_input, step) => step.approval("sign-off", { approvalType: "refund" })),
  );
  sluice.pipeline(
    definePipeline({ name: "napper", input: z.object({}) }, async (_input, step) => {
      await step.sleep("nap", "3s");
      return { woke: true };
    }),
  );
  sluice.pipeline(definePipeline({ name: "ticker", input: z.object({}) }, async () => ({ ticked: true })));
  await sluice.startWorkers();
  return sluice;
}

describe("runs survive a restart of an embedded data folder", { timeout: 120_000 }, () => {
  const dir = newEmbeddedDataDir("sluice-runs-restart-");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a run waiting on an approval, a sleeping run and a schedule all resume after the restart", async () => {
    let sluice = await open(dir);
    const gated = await sluice.runs.start({ pipeline: "gated", workspace: WS, input: {} });
    const napper = await sluice.runs.start({ pipeline: "napper", workspace: WS, input: {} });
    await sluice.schedule({
      name: "restart_tick",
      cron: "*/2 * * * * *",
      tz: "UTC",
      target: { kind: "pipeline", name: "ticker", input: {}, workspace: WS },
    });
    await until(
      () => sluice.runs.get(gated.id),
      (r) => r.status === "waiting",
      20_000,
      "waiting on the approval",
    );
    await until(
      () => sluice.runs.get(napper.id),
      (r) => r.status === "sleeping",
      20_000,
      "sleeping",
    );
    await sluice.close();

    sluice = await open(dir);
    const restartedAt = new Date();
    try {
      const task = (await sluice.approvals.list(WS, { status: ["pending"] })).tasks.find((t) => t.run_id === gated.id);
      expect(task).toBeDefined();
      await sluice.approvals.decide({ actor: "key:ops", workspaceId: WS }, task!.id, true, "after the restart");
      const settled = (r: { status: string }) => ["completed", "failed", "cancelled"].includes(r.status);
      expect(await until(() => sluice.runs.get(gated.id), settled, 30_000, "gated settled")).toMatchObject({
        status: "completed",
        output: { approved: true },
      });
      expect(await until(() => sluice.runs.get(napper.id), settled, 30_000, "napper settled")).toMatchObject({
        status: "completed",
        output: { woke: true },
      });
      const ticks = await until(
        async () =>
          (await sluice.runs.list({ workspace: WS, pipeline: "ticker", limit: 100 })).runs.filter(
            (r) => r.created_at >= restartedAt && r.status === "completed",
          ),
        (runs) => runs.length > 0,
        30_000,
        "a scheduled run after the restart",
      );
      expect(ticks.length).toBeGreaterThan(0);
    } finally {
      await sluice.close();
    }
  });
});
