import { carriesInternals, ERROR_CATALOGUE, isSluiceError, NonRetryableError, type SluiceError } from "../../core/errors.ts";
import type { StepError } from "./contracts.ts";
import type { RunRow, StepKind, StepRow } from "./types.ts";

/**
 * Control flow of one invocation of a run's function. These are thrown through the user's code:
 * a function that catches them and goes on is still suspended (the invocation remembers it).
 */

/** The run stops here and waits, holding no worker; `wake` asks for a delayed job. */
export class RunSuspended extends Error {
  constructor(
    readonly status: "waiting" | "sleeping",
    readonly wake?: { at: Date; key: string },
  ) {
    super("The run is waiting (this is control flow, not a failure: let it propagate)");
    this.name = "RunSuspended";
  }
}

/** A step failed for good (attempts spent, or not retryable): the run fails unless the function catches it. */
export class StepFailure extends Error {
  constructor(
    readonly stepName: string,
    readonly error: StepError,
  ) {
    super(`Step "${stepName}" failed: ${error.code}: ${error.message}`);
    this.name = "StepFailure";
  }
}

/** The run was cancelled while this invocation ran it: stop without touching it. */
export class RunCancelled extends Error {
  constructor() {
    super("The run was cancelled");
    this.name = "RunCancelled";
  }
}

/** Sluice's own bookkeeping (the store, the approvals or actions module) failed: retry the invocation, do not fail the run. */
export class EngineFailure extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "EngineFailure";
  }
}

/** The store, kv or queue does not answer (a restart, a network blip): nobody's fault, so it spends no attempt. */
export function dependencyOutage(err: unknown): SluiceError | undefined {
  const cause = err instanceof EngineFailure ? err.cause : err;
  return isSluiceError(cause) && cause.code === "DEPENDENCY_UNAVAILABLE" ? cause : undefined;
}

/**
 * Runs `write` again while the store does not answer, for up to `waitMs`: once a step's body has
 * run, losing its outcome to a restart would run the body a second time on replay.
 */
export async function untilStoreAnswers<T>(
  write: () => Promise<T>,
  options: { waitMs: number; signal?: AbortSignal | undefined; onFirstWait?: (err: unknown) => void },
): Promise<T> {
  const deadline = Date.now() + options.waitMs;
  for (let pause = 250; ; pause = Math.min(pause * 2, 2_000)) {
    try {
      return await write();
    } catch (err) {
      if (!dependencyOutage(err) || Date.now() + pause > deadline || options.signal?.aborted) throw err;
      if (pause === 250) options.onFirstWait?.(err);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/** Marks a failure of the engine's own I/O as such. */
export function engineIo<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((err: unknown) => {
    throw err instanceof EngineFailure ? err : new EngineFailure(err);
  });
}

/** The function's code changed shape, or repeats a step name: the run fails rather than mix outcomes. */
export class Nondeterminism extends Error {
  constructor(
    readonly stepName: string,
    message: string,
  ) {
    super(message);
    this.name = "Nondeterminism";
  }
}

/**
 * The database's clock during one invocation, read without a round trip: the claim's `now()` plus the
 * time elapsed here since the claim answered. A step takes it synchronously when the function calls
 * it, so the moment a step is reached follows the function's own order, not the order in which the
 * store happens to answer concurrent queries.
 */
export class InvocationClock {
  private readonly mark = performance.now();
  constructor(private readonly claimedAt: Date) {}

  now(): Date {
    return new Date(this.claimedAt.getTime() + Math.floor(performance.now() - this.mark));
  }
}

/** What one invocation of the function knows and has done. */
export class Invocation {
  readonly steps: Map<string, StepRow>;
  readonly seen = new Set<string>();
  readonly suspensions: RunSuspended[] = [];
  /** Steps started and not yet written: awaited before the invocation settles the run. */
  readonly inFlight = new Set<Promise<unknown>>();
  position = 0;
  stateChanges = 0;
  engineFailure: EngineFailure | undefined;

  constructor(
    readonly run: RunRow,
    steps: readonly StepRow[],
    /** Made when the claim answered: the claimed row's `updated_at` is the database's `now()` then. */
    readonly clock = new InvocationClock(run.updated_at),
  ) {
    this.steps = new Map(steps.map((s) => [s.name, s]));
  }

  /**
   * Claims the next position for a step call and returns its memo row: the same name twice, or a
   * recorded step of another kind or at another position, is nondeterminism.
   */
  enter(name: string, kind: StepKind, width = 1): { row: StepRow | undefined; position: number } {
    if (typeof name !== "string" || name.length === 0 || name.length > 200)
      throw new Nondeterminism(String(name), "A step name is 1-200 characters");
    if (this.seen.has(name))
      throw new Nondeterminism(
        name,
        `Step name "${name}" is used twice in one run: step names must be unique and the same on every replay`,
      );
    this.seen.add(name);
    const position = this.position;
    this.position += width;
    const row = this.steps.get(name);
    // A step of width 2 (an action: its approval, then the call) records its own row at the last of its positions.
    if (row && (row.kind !== kind || row.position < position || row.position >= position + width)) {
      throw new Nondeterminism(
        name,
        `Step "${name}" was recorded as ${row.kind} at position ${row.position}, and is now called as ${kind} at position ${position}: the pipeline's code changed shape`,
      );
    }
    return { row, position };
  }

  /** Remembers a suspension even if the function swallows it, and rethrows it. */
  suspend(suspension: RunSuspended): never {
    this.suspensions.push(suspension);
    throw suspension;
  }

  track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const done = () => this.inFlight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

/** A step's error as it is stored and shown: a code and a message. */
export function toStepError(err: unknown): StepError {
  if (err instanceof StepFailure) return err.error;
  // An outcome that already is a step error (an action's own failure) keeps its code.
  const carried = (err as { stepError?: StepError } | null)?.stepError;
  if (carried) return carried;
  // Tenants read step errors: a code whose text may carry hosts or provider answers gets the catalogue's message.
  if (isSluiceError(err)) return { code: err.code, message: carriesInternals(err.code) ? ERROR_CATALOGUE[err.code].message : err.message };
  if (err instanceof NonRetryableError) return { code: err.code, message: err.message };
  const code = typeof (err as { code?: unknown })?.code === "string" ? String((err as { code: string }).code) : "STEP_FAILED";
  return { code: /^[A-Z][A-Z0-9_]*$/.test(code) ? code : "STEP_FAILED", message: err instanceof Error ? err.message : String(err) };
}

/** A step whose worker died (crashed, was killed, or blocked past its lock) in its last allowed attempt. */
export function workerStopped(attempt: number, maxAttempts: number): StepError {
  return {
    code: "JOB_STALLED",
    message: `The step's worker stopped during attempt ${attempt} of ${maxAttempts} (crashed, killed or blocked past its lock); it was not run again`,
  };
}

/** Plain errors retry (as in Inngest and Temporal); SluiceErrors say whether they may; NonRetryableError never does. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof NonRetryableError || err instanceof StepFailure || err instanceof Nondeterminism || err instanceof EngineFailure)
    return false;
  if (isSluiceError(err)) return err.retryable;
  return true;
}
