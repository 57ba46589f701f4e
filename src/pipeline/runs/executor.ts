import { createHash } from "node:crypto";
import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import type { Logger } from "../../core/logger.ts";
import type { Counter } from "../../ports/metrics.ts";
import type { Store } from "../../ports/store.ts";
import { defer, deferralOf, waitingSince } from "../jobs/deferral.ts";
import type { TaskRegistry } from "../tasks/registry.ts";
import type { QueueManager } from "../queues/queue-manager.ts";
import { translateQueueError } from "../queues/translate-error.ts";
import {
  dependencyOutage,
  EngineFailure,
  Invocation,
  InvocationClock,
  Nondeterminism,
  RunCancelled,
  RunSuspended,
  StepFailure,
  toStepError,
  untilStoreAnswers,
} from "./invocation.ts";
import { claimRun, findRun, finishRun, releaseRun, renewRunLease } from "./sql/runs.ts";
import { listSteps } from "./sql/steps.ts";
import { createStepApi, type RunSeams, type StepApiDeps } from "./step-api.ts";
import { SETTLED_STATUSES, type PipelineDefinition, type RunRow } from "./types.ts";

export interface RunJobData {
  runId: string;
  /** A fresh job for a run whose earlier job stalled out (stalled-out.ts): stalling out again outside any step fails the run. */
  redriven?: boolean;
}

export interface ExecutorDeps {
  store: Store;
  queues: QueueManager;
  queue: string;
  tasks: TaskRegistry;
  logger: Logger;
  seams: RunSeams;
  pipelines: ReadonlyMap<string, PipelineDefinition>;
  gate?: StepApiDeps["gate"];
  eventRetentionMs?: number | undefined;
  /** How long one invocation holds the run before another job may take it over. @default 600000 */
  leaseMs?: number;
  /** Another job holds the run: look again this much later. @default 250 */
  busyRetryMs?: number;
  onSettled(run: RunRow): Promise<void>;
  /** AI_MAX_WAIT_FOR_PROVIDER_MS: the longest an invocation waits out an unavailable store or queue. @default 3600000 */
  maxWaitMs?: number | undefined;
  /** `ai_jobs_deferred_total`, counted with `queue="sluice-runs"`. */
  deferred?: Counter | undefined;
  /** How long an invocation being put back waits for an unanswering queue. @default 300000 */
  storeWaitMs?: number | undefined;
}

/** The job id of one wake-up (a step and its due time), so re-suspending on it adds no second job. */
function wakeJobId(runId: string, wake: { at: Date; key: string }): string {
  // BullMQ ids: no ':' and not a plain integer; the step name may hold either.
  return `wake-${runId}-${createHash("sha1").update(`${wake.key}@${wake.at.getTime()}`).digest("hex").slice(0, 16)}`;
}

/**
 * Enqueues an invocation of the run: now, or at `wake.at` under the wake-up's id. `currentJob`: a
 * wake-up that fired early (clocks of two machines) re-suspends on itself, and BullMQ would ignore
 * its own id, so it gets a fresh one.
 */
export async function enqueueRun(
  queues: QueueManager,
  queue: string,
  runId: string,
  wake?: { at: Date; key: string },
  delayMs?: number,
  currentJob?: string,
): Promise<void> {
  const data: RunJobData = { runId };
  if (!wake) {
    await queues.add(queue, "run", data, delayMs ? { delay: delayMs } : {});
    return;
  }
  const jobId = wakeJobId(runId, wake);
  const delay = Math.max(0, wake.at.getTime() - Date.now());
  await queues.add(queue, "run", data, jobId === currentJob ? { delay: Math.max(delay, 100) } : { jobId, delay });
}

/**
 * One invocation of a run, as a queue job: take the run, replay its function against the stored
 * steps (completed ones return their results without running), and end in one of three ways:
 * settled (completed or failed), suspended (waiting or sleeping, no worker held, a delayed job
 * for any wake-up), or left alone (cancelled meanwhile, or another job holds it).
 */
export function runProcessor(deps: ExecutorDeps) {
  const leaseMs = deps.leaseMs ?? 600_000;
  const logger = deps.logger.child({ component: "runs" });

  return async (job: Job<RunJobData>, token?: string, signal?: AbortSignal): Promise<{ status: string }> => {
    try {
      return await invoke(job, signal);
    } catch (err) {
      const outage = signal?.aborted ? undefined : dependencyOutage(err);
      if (outage) return deferInvocation(job, token, outage, signal);
      // The store or queue failed under the invocation: the job's own retries try again; after the
      // last one the run fails visibly instead of staying `running` behind its lease.
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 < attempts) throw err;
      logger.error({ err, runId: job.data.runId }, "run invocation failed on its last job attempt");
      const run = await findRun(deps.store, job.data.runId).catch(() => undefined);
      if (run)
        await settle(run, String(job.id), {
          status: "failed",
          error: { code: "INTERNAL", message: "The run's invocation kept failing (see the server log)" },
          failedStep: null,
        }).catch(() => undefined);
      throw err;
    }
  };

  /**
   * The store or queue is down (a restart): the invocation comes back later without spending a job
   * attempt, as a job does, up to the longest wait (AI_MAX_WAIT_FOR_PROVIDER_MS); the run keeps its
   * status and its completed steps meanwhile.
   */
  async function deferInvocation(
    job: Job<RunJobData>,
    token: string | undefined,
    outage: Error,
    signal: AbortSignal | undefined,
  ): Promise<never> {
    const since = waitingSince(job);
    const deferral = deferralOf(outage, since === undefined ? 0 : Date.now() - since);
    if (!deferral) throw outage;
    const jobLogger = logger.child({ runId: job.data.runId, jobId: job.id });
    const putBack = async (): Promise<never> => {
      try {
        return await defer(job, token, deferral, {
          maxWaitMs: deps.maxWaitMs ?? 3_600_000,
          logger: jobLogger,
          deferred: deps.deferred,
          queue: deps.queue,
        });
      } catch (err) {
        if (err instanceof DelayedError || err instanceof UnrecoverableError) throw err;
        throw translateQueueError(err, "put the run's invocation back");
      }
    };
    try {
      // With queues on the same PostgreSQL the job cannot be put back either: hold it until the queue
      // answers, rather than fail the attempt and leave the job to the stalled check (30-60 s later).
      return await untilStoreAnswers(putBack, { waitMs: deps.storeWaitMs ?? 300_000, signal });
    } catch (err) {
      if (!(err instanceof UnrecoverableError)) throw err;
      const run = await findRun(deps.store, job.data.runId).catch(() => undefined);
      if (run)
        await settle(run, String(job.id), {
          status: "failed",
          error: { code: "MAX_WAIT_EXCEEDED", message: err.message },
          failedStep: null,
        }).catch(() => undefined);
      throw err;
    }
  }

  async function invoke(job: Job<RunJobData>, signal: AbortSignal | undefined): Promise<{ status: string }> {
    const { runId } = job.data;
    const owner = String(job.id);
    const run = await claimRun(deps.store, runId, owner, leaseMs);
    if (!run) return bounce(runId);
    const clock = new InvocationClock(run.updated_at);
    const renewal = holdLease(runId, owner);
    try {
      return await invokeClaimed(run, clock, owner, signal);
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * Renews the lease while the invocation runs: a step longer than the lease would otherwise let a
   * wake-up job take the run over and run that step again beside it. Only a dead worker lets it lapse.
   */
  function holdLease(runId: string, owner: string): NodeJS.Timeout {
    const renewal = setInterval(
      () =>
        void renewRunLease(deps.store, runId, owner, leaseMs).catch((err: unknown) =>
          logger.warn({ err, runId }, "could not renew the run's lease (the store did not answer); trying again"),
        ),
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    renewal.unref();
    return renewal;
  }

  async function invokeClaimed(
    run: RunRow,
    clock: InvocationClock,
    owner: string,
    signal: AbortSignal | undefined,
  ): Promise<{ status: string }> {
    const runId = run.id;
    const definition = deps.pipelines.get(run.pipeline);
    if (!definition)
      return settle(run, owner, {
        status: "failed",
        error: { code: "PIPELINE_NOT_FOUND", message: `No pipeline "${run.pipeline}" is registered in this worker` },
        failedStep: null,
      });
    const inv = new Invocation(run, await listSteps(deps.store, runId), clock);
    const step = createStepApi(
      {
        store: deps.store,
        tasks: deps.tasks,
        logger,
        queue: deps.queue,
        gate: deps.gate,
        seams: deps.seams,
        definition,
        signal,
        eventRetentionMs: deps.eventRetentionMs,
      },
      inv,
    );
    let output: unknown;
    let failure: unknown;
    try {
      output = await definition.fn(run.input, step);
    } catch (err) {
      failure = err;
    }
    await inv.drain();
    // Sluice's own store or a seam failed, not the pipeline: the job retries the invocation.
    const engineFailure = inv.engineFailure ?? (failure instanceof EngineFailure ? failure : undefined);
    if (engineFailure) throw engineFailure.cause;
    if (failure instanceof RunCancelled) return { status: "cancelled" };
    if (inv.suspensions.length > 0) return suspend(run, owner, inv.suspensions);
    if (failure === undefined) return settle(run, owner, { status: "completed", output: output ?? null });
    return settle(run, owner, failureOutcome(failure));
  }

  async function bounce(runId: string): Promise<{ status: string }> {
    const current = await findRun(deps.store, runId);
    if (!current || SETTLED_STATUSES.includes(current.status)) return { status: current?.status ?? "missing" };
    // Another invocation holds it: come back once it has let go, so this wake-up is not lost.
    await enqueueRun(deps.queues, deps.queue, runId, undefined, deps.busyRetryMs ?? 250);
    return { status: "busy" };
  }

  async function suspend(run: RunRow, owner: string, suspensions: readonly RunSuspended[]): Promise<{ status: string }> {
    const status = suspensions.some((s) => s.status === "waiting") ? "waiting" : "sleeping";
    for (const s of suspensions) if (s.wake) await enqueueRun(deps.queues, deps.queue, run.id, s.wake, undefined, owner);
    await releaseRun(deps.store, run.id, owner, status);
    return { status };
  }

  async function settle(run: RunRow, owner: string, outcome: Parameters<typeof finishRun>[3]): Promise<{ status: string }> {
    const settled = await finishRun(deps.store, run.id, owner, outcome);
    if (!settled) return { status: "cancelled" };
    if (settled.status === "failed")
      logger.warn({ runId: run.id, pipeline: run.pipeline, error: settled.error, step: settled.failed_step }, "run failed");
    await deps.onSettled(settled).catch((err: unknown) => logger.error({ err, runId: run.id }, "onRunSettled failed"));
    return { status: settled.status };
  }
}

function failureOutcome(failure: unknown): Parameters<typeof finishRun>[3] {
  if (failure instanceof StepFailure) return { status: "failed", error: failure.error, failedStep: failure.stepName };
  if (failure instanceof Nondeterminism)
    return { status: "failed", error: { code: "RUN_NONDETERMINISTIC", message: failure.message }, failedStep: failure.stepName };
  return { status: "failed", error: toStepError(failure), failedStep: null };
}
