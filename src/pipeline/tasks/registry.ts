import type { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";

/** What a task handler gets besides its input. */
export interface TaskContext {
  jobId: string;
  queue: string;
  workspace: string;
  /** 1 on the first run. */
  attempt: number;
  /** Aborted when the worker shuts down or loses the job's lock. */
  signal: AbortSignal | undefined;
  logger: Logger;
  progress(value: number | object): Promise<void>;
}

export type TaskHandler<I = unknown, O = unknown> = (input: I, ctx: TaskContext) => Promise<O>;

export interface TaskDefinition<I = unknown, O = unknown> {
  /** The job `type` clients send, e.g. `llm.complete`. */
  name: string;
  handler: TaskHandler<I, O>;
  /** Checked at intake, so a bad input is a 400 then, not a failed job later. */
  input?: z.ZodType<I>;
  /** Queue its jobs go to when the request names none. @default the default queue */
  queue?: string;
  /** Checks at intake that the schema cannot express (a model outside the allowlist); throws a SluiceError. */
  check?: (input: I) => void;
}

const TASK_NAME = /^[a-z][a-z0-9_.-]{0,99}$/;

/** The task types this instance runs: built-ins plus those registered through `sluice.task()`. */
export class TaskRegistry {
  readonly #tasks = new Map<string, TaskDefinition>();

  register<I, O>(definition: TaskDefinition<I, O>): void {
    if (!TASK_NAME.test(definition.name))
      throw new SluiceError("VALIDATION_FAILED", `Task names are lower-case letters, digits, '.', '_', '-': "${definition.name}"`);
    this.#tasks.set(definition.name, definition as TaskDefinition);
  }

  get(name: string): TaskDefinition | undefined {
    return this.#tasks.get(name);
  }

  /** The definition, or JOB_TYPE_UNKNOWN (400) naming the known ones. */
  require(name: string): TaskDefinition {
    const task = this.#tasks.get(name);
    if (!task) throw new SluiceError("JOB_TYPE_UNKNOWN", `Unknown job type "${name}"`, { details: { known: this.names() } });
    return task;
  }

  names(): string[] {
    return [...this.#tasks.keys()].sort();
  }

  /** Validates an input against the task's schema; VALIDATION_FAILED with the issues otherwise. */
  parseInput(task: TaskDefinition, input: unknown): unknown {
    if (!task.input) return input;
    const parsed = task.input.safeParse(input);
    if (parsed.success) {
      task.check?.(parsed.data);
      return parsed.data;
    }
    const details = parsed.error.issues.map((i) => ({ path: `/input${i.path.length ? `/${i.path.join("/")}` : ""}`, message: i.message }));
    throw new SluiceError("VALIDATION_FAILED", `Input for "${task.name}" failed validation`, { details });
  }
}
