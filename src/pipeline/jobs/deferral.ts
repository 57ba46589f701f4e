import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import { isSluiceError, RateLimitedError, RetryLaterError, SluiceError, type ErrorCode } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Counter, Metrics } from "../../ports/metrics.ts";

/**
 * A job refused for now is not a failed attempt: it goes back to the queue, delayed until it may
 * run, with `moveToDelayed` (BullMQ leaves `attemptsMade` alone) and a `DelayedError` so the worker
 * does not fail it. Waits that are nobody's decision (a provider that refuses, a dependency that is
 * down) are bounded in total by `maxWaitMs`; an operator's hold (task kill switch, spent budget)
 * lasts as long as the operator keeps it.
 */

/** Why and how long a job waits. */
export interface Deferral {
  code: ErrorCode;
  delayMs: number;
  /** Counted against the job's maximum wait. */
  bounded: boolean;
  message: string;
}

/** Operators' holds: they end when lifted (or the budget resets), however long that takes. */
const HOLDS: ReadonlySet<ErrorCode> = new Set(["TASK_DISABLED", "BUDGET_EXHAUSTED"]);

/** Job data field: when the job first waited (ms since the epoch), so the bound survives deferrals and restarts. */
const WAITING_SINCE = "waiting_since";

/** Look again soon after a blip, then about as long as the job has waited so far: 1 s up to 30 s. */
export function dependencyRetryMs(waitedMs: number): number {
  return Math.min(30_000, Math.max(1_000, waitedMs));
}

/**
 * The "not now" outcomes: errors that say when to come back (kill switch, budget, a provider's
 * open breaker, isolation or Retry-After) and an unavailable store, kv or Redis. Anything else is
 * the job's own failure.
 */
export function deferralOf(err: unknown, waitedMs: number): Deferral | undefined {
  if (err instanceof RetryLaterError || err instanceof RateLimitedError) {
    return { code: err.code, delayMs: err.retryAfterMs, bounded: !HOLDS.has(err.code), message: err.message };
  }
  if (isSluiceError(err) && err.code === "DEPENDENCY_UNAVAILABLE") {
    return { code: err.code, delayMs: dependencyRetryMs(waitedMs), bounded: true, message: err.message };
  }
  return undefined;
}

/** `ai_jobs_deferred_total{queue,code}`: task jobs and run invocations count their deferrals here. */
export function deferredCounter(metrics: Metrics | undefined): Counter | undefined {
  return metrics?.counter({
    name: "ai_jobs_deferred_total",
    help: "Jobs put back, delayed without spending an attempt: a kill switch or budget (TASK_DISABLED, BUDGET_EXHAUSTED), a provider refusing for now (PROVIDER_UNAVAILABLE, RATE_LIMITED), a store/kv/Redis down (DEPENDENCY_UNAVAILABLE)",
    labelNames: ["queue", "code"],
  });
}

export function waitingSince(job: Pick<Job, "data">): number | undefined {
  const value = (job.data as Record<string, unknown> | undefined)?.[WAITING_SINCE];
  return typeof value === "number" ? value : undefined;
}

export interface DeferOptions {
  /** Longest total wait of bounded deferrals (AI_MAX_WAIT_FOR_PROVIDER_MS). */
  maxWaitMs: number;
  logger: Logger;
  deferred: Counter | undefined;
  queue: string;
  random?: () => number;
}

/**
 * Puts the job back, delayed, and throws the `DelayedError` the worker expects; past the maximum
 * wait it throws an `UnrecoverableError` with code MAX_WAIT_EXCEEDED instead.
 */
export async function defer(job: Job, token: string | undefined, deferral: Deferral, options: DeferOptions): Promise<never> {
  const now = Date.now();
  let delay = deferral.delayMs;
  const since = waitingSince(job);
  if (deferral.bounded) {
    const waited = now - (since ?? now);
    if (waited >= options.maxWaitMs) {
      const err = new SluiceError(
        "MAX_WAIT_EXCEEDED",
        `Waited ${Math.round(waited / 1000)} s, the most AI_MAX_WAIT_FOR_PROVIDER_MS allows (${options.maxWaitMs} ms), and still refused: ${deferral.code}: ${deferral.message}`,
      );
      options.logger.warn({ code: err.code, waitedMs: waited, reason: deferral.code }, "job waited too long: failing it");
      throw new UnrecoverableError(`${err.code}: ${err.message}`);
    }
    if (since === undefined) await job.updateData({ ...(job.data as object), [WAITING_SINCE]: now });
    // A little spread so the jobs an outage held back do not all come back on the same millisecond.
    const spread = Math.floor((options.random ?? Math.random)() * Math.min(1_000, delay * 0.1));
    delay = Math.min(delay + spread, (since ?? now) + options.maxWaitMs - now);
  }
  // The first wait is news; the rest of a long one would flood the log.
  const log = since === undefined ? options.logger.info.bind(options.logger) : options.logger.debug.bind(options.logger);
  log({ code: deferral.code, delayMs: delay, waitingSince: since ?? now }, "job deferred");
  options.deferred?.inc({ queue: options.queue, code: deferral.code });
  await job.moveToDelayed(now + delay, token);
  throw new DelayedError(`${deferral.code}: ${deferral.message}`);
}
