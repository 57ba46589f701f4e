import type { Budgets } from "../accounting/index.ts";
import type { KillSwitches } from "../flags/index.ts";

/**
 * The rule for whether AI work may go ahead, in one place: the task type's kill switch, then the
 * workspace's daily token budget. At intake a refusal is an error with Retry-After; before a run
 * (a job or a pipeline step) the work waits a little for a reset, then goes back to the queue.
 */
export interface Admission {
  /** At intake: TASK_DISABLED or BUDGET_EXCEEDED (with Retry-After) refuse the request. */
  readonly atIntake: (workspace: string, type: string) => Promise<void>;
  /** Before each run; a held-back job looks again every `recheckMs` (a budget raised, a switch turned back on). */
  readonly beforeRun: (job: { workspace: string; type: string }) => Promise<void>;
}

export interface AdmissionDeps {
  killSwitches: Pick<KillSwitches, "assertTaskEnabled">;
  budgets: Pick<Budgets, "assertWithinBudget">;
  /** KILL_SWITCH_RECHECK_MS */
  recheckMs: number;
}

export function createAdmission(deps: AdmissionDeps): Admission {
  const { killSwitches, budgets, recheckMs } = deps;
  return {
    async atIntake(workspace, type) {
      await killSwitches.assertTaskEnabled(type);
      await budgets.assertWithinBudget(workspace);
    },
    async beforeRun(job) {
      await killSwitches.assertTaskEnabled(job.type);
      await budgets.assertWithinBudget(job.workspace, { maxWaitMs: recheckMs });
    },
  };
}
