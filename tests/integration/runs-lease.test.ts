import { describe, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { RUNS_QUEUE } from "../../src/pipeline/runs/service.ts";
import { embeddedAndServers } from "../harness/databases.ts";
import { startTestSluice } from "../harness/sluice.ts";
import { sleep, until } from "../harness/wait.ts";

/**
 * A step that runs longer than the run's lease (RUNS_LEASE_MS) keeps the run: the live invocation
 * renews its lease, so a second invocation of the same run that arrives meanwhile (an event's or a
 * decision's wake-up) waits for it instead of taking the run over and running the step again beside
 * it. Redis logical database 63.
 */
for (const engine of embeddedAndServers("runs_lease", 63)) {
  describe(`a step longer than the run's lease on ${engine.name}`, () => {
    it("runs once: the wake-up that arrives mid-step waits for the live invocation", { timeout: 120_000 }, async () => {
      const t = await startTestSluice({ ...(await engine.env()), RUNS_LEASE_MS: "1000" });
      try {
        let bodies = 0;
        t.sluice.pipeline(
          definePipeline({ name: "long-step", input: z.object({}) }, async (_input, step) => {
            const slow = await step.run("slow", async () => {
              bodies += 1;
              await sleep(4_000);
              return "done";
            });
            return { slow };
          }),
        );
        await t.sluice.startWorkers({ concurrency: 4 });
        const { id } = await t.sluice.runs.start({ pipeline: "long-step", workspace: "ws-lease", input: {} });
        await until(
          () => t.sluice.runs.get(id),
          (run) => run.steps?.some((s) => s.name === "slow" && s.status === "running") ?? false,
          30_000,
          "the slow step running",
        );
        // A second invocation of the same run, as an event or an approval decision would enqueue one.
        await t.sluice.queues.add(RUNS_QUEUE, "run", { runId: id });
        const done = await until(
          () => t.sluice.runs.get(id),
          (run) => ["completed", "failed", "cancelled"].includes(run.status),
          60_000,
          "the run settled",
        );
        expect(done.status).toBe("completed");
        expect(done.output).toEqual({ slow: "done" });
        expect(bodies).toBe(1);
        expect(done.steps?.find((s) => s.name === "slow")?.attempts).toBe(1);
      } finally {
        await t.close();
      }
    });
  });
}
