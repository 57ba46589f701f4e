import type { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Queryable } from "../../ports/store.ts";

/** What an action's `execute` gets besides its arguments. */
export interface ActionContext {
  readonly workspace: string;
  /** The ledger row (`action_executions.id`): a stable id to pass on to the outside service where it takes one. */
  readonly executionId: string;
  readonly idempotencyKey: string;
  readonly actor: string;
  /** 1 on the first call; more only for idempotent actions, retryable failures and approved re-runs. */
  readonly attempt: number;
  /** Aborted at ACTIONS_CALL_TIMEOUT_MS. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Sluice's database, for actions whose target is Sluice itself (task.create). */
  readonly store: Queryable;
}

export interface ActionDefinition<A = unknown, R = unknown> {
  /** Lower-case dotted name, as allowlists spell it: `gmail.send`, `github.issue.create`. */
  readonly name: string;
  readonly description?: string;
  /** Checked before the ledger row is written: bad arguments are ACTION_ARGS_INVALID, never a call. */
  readonly args: z.ZodType<A>;
  /**
   * Safe to call twice with the same arguments (the remote deduplicates, or the effect is a
   * set-to). A call cut off by a crash is then re-run; otherwise a person decides. @default false
   */
  readonly idempotent?: boolean;
  /** Runs only after a person approved it (as ACTIONS_REQUIRE_APPROVAL does by name). @default false */
  readonly requiresApproval?: boolean;
  /**
   * The side effect. Its result is stored (JSON) and returned to every later caller with the same
   * key. Throw a SluiceError with `retryable: true` only when the call certainly had no effect.
   */
  execute(ctx: ActionContext, args: A): Promise<R>;
}

const ACTION_NAME = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;

/** Checks the name and returns the definition typed by its schema. */
export function defineAction<A, R>(definition: ActionDefinition<A, R>): ActionDefinition<A, R> {
  if (!ACTION_NAME.test(definition.name) || definition.name.length > 100) {
    throw new SluiceError(
      "VALIDATION_FAILED",
      `Action names are lower-case words joined by dots (at most 100 characters): "${definition.name}"`,
    );
  }
  return definition;
}

/** The actions this instance can run: built-ins plus those registered through `sluice.action()`. */
export class ActionRegistry {
  readonly #actions = new Map<string, ActionDefinition>();

  register<A, R>(definition: ActionDefinition<A, R>): void {
    defineAction(definition);
    this.#actions.set(definition.name, definition);
  }

  get(name: string): ActionDefinition | undefined {
    return this.#actions.get(name);
  }

  /** The definition, or ACTION_UNKNOWN naming the known ones. */
  require(name: string): ActionDefinition {
    const action = this.#actions.get(name);
    if (!action) throw new SluiceError("ACTION_UNKNOWN", `Unknown action "${name}"`, { details: { action: name, known: this.names() } });
    return action;
  }

  names(): string[] {
    return [...this.#actions.keys()].sort();
  }

  list(): ActionDefinition[] {
    return [...this.#actions.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Validated arguments, or ACTION_ARGS_INVALID with each issue's path. */
  parseArgs(definition: ActionDefinition, args: unknown): unknown {
    const parsed = definition.args.safeParse(args);
    if (parsed.success) return parsed.data;
    const details = parsed.error.issues.map((i) => ({ path: `/args${i.path.length ? `/${i.path.join("/")}` : ""}`, message: i.message }));
    throw new SluiceError("ACTION_ARGS_INVALID", `Arguments for "${definition.name}" failed validation`, { details });
  }
}
