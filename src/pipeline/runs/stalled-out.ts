import { createHash } from "node:crypto";
import type { Job } from "bullmq";
import type { Logger } from "../../core/logger.ts";
import type { Store } from "../../ports/store.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import type { StepError } from "./contracts.ts";
import type { RunJobData } from "./executor.ts";
import { untilStoreAnswers } from "./invocation.ts";
import { failStalledRun, releaseStalledRun } from "./sql/runs.ts";
import { stepLeftMidway } from "./sql/steps.ts";
import type { RunRow } from "./types.ts";

interface StalledOutDeps {
  store: Store;
  queues: QueueManager;
  queue: string;
  logger: Logger;
  onSettled(run: RunRow): Promise<void>;
  /** How long the handler waits out an unanswering store or queue. @default 300000 */
  storeWaitMs?: number | undefined;
}

/** A run that crashed its worker outside any step twice, the second time after a fresh start. */
const CRASHED_OUTSIDE_STEPS: StepError = {
  code: "JOB_STALLED",
  message:
    "The run's worker stopped twice outside any step (in the pipeline function's own code: crashed, killed or blocked past its lock), again after a fresh start; it was not run again",
};

/** One fresh job per stalled-out job: a handler that runs twice for it adds nothing the second time. */
function redriveJobId(runId: string, stalledJobId: string): string {
  return `redrive-${runId}-${createHash("sha1").update(stalledJobId).digest("hex").slice(0, 16)}`;
}

/**
 * The runs worker's `onStalledOut`. A run job whose workers died mid-invocation more often than the
 * queue's maxStalledCount allows is failed by the stalled check without running the processor, so
 * nothing would ever drive its run again. As in Temporal, a worker's death is not the run's failure:
 * the run is driven again by a fresh job (marked `redriven`), and what bounds a body that kills its
 * worker every time is its step's retry policy (a try left `running` counts as an attempt,
 * step-api.ts) or, for an action, the ledger and a person. Only a crash outside any step cannot be
 * bounded by a step: a re-driven job that stalls out again with no step left mid-way fails the run
 * with JOB_STALLED. Nothing is done while another live job holds the run, or once it is settled.
 */
export function runStalledOutHandler(deps: StalledOutDeps) {
  const logger = deps.logger.child({ component: "runs" });
  return async (job: Job): Promise<void> => {
    const data = job.data as Partial<RunJobData> | undefined;
    const runId = data?.runId;
    if (typeof runId !== "string") return;
    const jobId = String(job.id);
    await untilStoreAnswers(
      async () => {
        const step = (await stepLeftMidway(deps.store, runId)) ?? null;
        if (data?.redriven === true && step === null) {
          const failed = await failStalledRun(deps.store, runId, jobId, CRASHED_OUTSIDE_STEPS);
          if (failed) {
            logger.warn({ runId, pipeline: failed.pipeline, jobId, step }, "run failed: its re-driven job stalled out outside any step");
            await deps.onSettled(failed).catch((err: unknown) => logger.error({ err, runId }, "onRunSettled failed"));
            return;
          }
        }
        const released = await releaseStalledRun(deps.store, runId, jobId);
        if (!released) return;
        const redriven: RunJobData = { runId, redriven: true };
        await deps.queues.add(deps.queue, "run", redriven, { jobId: redriveJobId(runId, jobId) });
        logger.warn(
          { runId, pipeline: released.pipeline, jobId, step },
          "run's job stalled out (its worker died in it more often than the queue allows); the run is driven again by a fresh job",
        );
      },
      {
        waitMs: deps.storeWaitMs ?? 300_000,
        onFirstWait: (err) =>
          logger.warn({ err, runId, jobId }, "a stalled-out run waits for the store to answer before it is driven again"),
      },
    );
  };
}
