import { SluiceError } from "../../core/errors.ts";
import type { Duration, PipelineDefinition, PipelineFunction, PipelineOptions, RetryPolicy } from "./types.ts";

const PIPELINE_NAME = /^[a-z][a-z0-9_.-]{0,99}$/;

/**
 * A pipeline as code: typed input and a function of `(input, step)` whose steps are durable.
 *
 * ```ts
 * const triage = definePipeline({ name: "triage", input: z.object({ text: z.string() }) }, async (input, step) => {
 *   const label = await step.task("classify", "classify", { text: input.text, labels: ["bug", "question"] });
 *   await step.sleep("cool-off", "1h");
 *   return label;
 * });
 * sluice.pipeline(triage);
 * ```
 */
export function definePipeline<I, O>(options: PipelineOptions<I>, fn: PipelineFunction<I, O>): PipelineDefinition<I, O> {
  if (!PIPELINE_NAME.test(options.name))
    throw new SluiceError("VALIDATION_FAILED", `Pipeline names are lower-case letters, digits, '.', '_', '-': "${options.name}"`);
  return Object.freeze({ ...options, fn });
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds from a Duration; VALIDATION_FAILED for anything else. */
export function durationMs(duration: Duration): number {
  if (typeof duration === "number") {
    if (!Number.isFinite(duration) || duration < 0)
      throw new SluiceError("VALIDATION_FAILED", `A duration must be 0 ms or more, not ${duration}`);
    return Math.round(duration);
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new SluiceError("VALIDATION_FAILED", `Unreadable duration "${String(duration)}": use e.g. 500ms, 30s, 10m, 2h, 7d`);
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? "ms"] ?? 1));
}

export type ResolvedRetryPolicy = Required<RetryPolicy>;

export function resolveRetryPolicy(...policies: Array<RetryPolicy | undefined>): ResolvedRetryPolicy {
  const merged = Object.assign({}, ...policies.filter(Boolean)) as RetryPolicy;
  return {
    maxAttempts: Math.max(1, Math.floor(merged.maxAttempts ?? 3)),
    backoffMs: Math.max(0, merged.backoffMs ?? 1_000),
    factor: Math.max(1, merged.factor ?? 2),
    maxBackoffMs: Math.max(0, merged.maxBackoffMs ?? 300_000),
  };
}

/** The wait before try `attempt + 1`, after `attempt` tries failed. */
export function backoffAfter(policy: ResolvedRetryPolicy, attempt: number): number {
  return Math.min(policy.maxBackoffMs, policy.backoffMs * policy.factor ** Math.max(0, attempt - 1));
}
