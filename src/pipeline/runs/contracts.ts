/**
 * The seams between runs, actions and approvals. Each side is built in its own folder
 * (`pipeline/runs`, `pipeline/actions`, `pipeline/approvals`) and the root wires them through these
 * interfaces, so none of them imports another's implementation.
 */

/** Where in a run a request comes from: the step that waits for its outcome. */
export interface StepRef {
  readonly runId: string;
  readonly stepName: string;
  readonly pipeline: string;
  readonly workspace: string;
}

export interface StepError {
  readonly code: string;
  readonly message: string;
}

/** The outcome that settles a waiting step (an approval decided, an event arrived, an action settled by a person). */
export type WaitOutcome = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: StepError };

/** Implemented by runs: settles a step a run is waiting on and re-enqueues the run. Idempotent per (runId, stepName). */
export interface WaitingStepResumer {
  settleWaitingStep(ref: Pick<StepRef, "runId" | "stepName">, outcome: WaitOutcome): Promise<void>;
  /** Re-enqueues a run whose action step waits on a decision taken elsewhere (the action ledger); a no-op for any other step. */
  wakeWaitingStep(ref: Pick<StepRef, "runId" | "stepName">): Promise<void>;
}

// ---- approvals -------------------------------------------------------------------------------

export type ApprovalStatus = "pending" | "approved" | "rejected" | "expired" | "escalated";

export interface ApprovalRequest {
  readonly workspace: string;
  /** `approval_type_configs.approval_type`: decides the SLA, assignee rule and deadline behaviour. */
  readonly approvalType: string;
  readonly pipelineStage?: string;
  readonly payload: unknown;
  readonly assignee?: string;
  /** Overrides the type's SLA. */
  readonly dueInMs?: number;
  /** The step waiting on the decision; absent for standalone tasks. */
  readonly step?: StepRef;
  /**
   * Which attempt of `step` this decides (an action's execution attempt): one task per attempt, so
   * an approved re-run that crashes again asks a person again. @default 1
   */
  readonly attempt?: number;
}

export interface ApprovalTaskView {
  readonly id: string;
  readonly status: ApprovalStatus;
  readonly decidedBy?: string | null;
  readonly reason?: string | null;
}

/** Implemented by approvals. A decision on a task with a `step` calls the root-wired resumer with `{ approved, decided_by, reason }`. */
export interface ApprovalRequester {
  /** Creates the task, or returns the existing one for the same `step` and attempt (a replayed run must not open a second task). */
  request(request: ApprovalRequest): Promise<ApprovalTaskView>;
  /** Closes the open tasks of cancelled runs (`expired`, with the reason), audited; returns how many. */
  withdrawForRuns?(runIds: readonly string[], by: string, reason: string): Promise<number>;
}

// ---- actions ---------------------------------------------------------------------------------

export interface ActionPolicyVerdict {
  readonly allowed: boolean;
  readonly requiresApproval: boolean;
  /** Why it is refused: ACTIONS_DISABLED, ACTION_NOT_ALLOWED, ACTION_UNKNOWN. */
  readonly code?: string;
  readonly reason?: string;
}

export interface ActionRequest {
  readonly workspace: string;
  readonly action: string;
  readonly args: unknown;
  /** At most one execution per key, across retries, crashes and workers. */
  readonly idempotencyKey: string;
  /** Who asked: `run:{id}`, `key:{id}`, `library`. */
  readonly actor: string;
  readonly step?: StepRef;
  /** Set when a person approved this very request (the approval step before it completed). */
  readonly approvedBy?: string;
  /** The approval task behind `approvedBy`, when the caller named one: used up by the first execution (APPROVAL_USED after). */
  readonly approvalId?: string;
}

export type ActionOutcome =
  | { readonly status: "succeeded"; readonly result: unknown; readonly executionId: string }
  | { readonly status: "failed"; readonly error: StepError; readonly retryable: boolean; readonly executionId: string }
  /** A previous attempt crashed mid-call: a person decides (an approval task was opened for `step`). */
  | { readonly status: "unknown"; readonly executionId: string; readonly approvalId?: string };

/** Implemented by actions: the one gate (policy) and the one ledger (`action_executions`). */
export interface ActionExecutor {
  policy(workspace: string, action: string): Promise<ActionPolicyVerdict>;
  /** Checks the policy again, records `started`, calls, records the outcome; returns the settled outcome of an earlier call with the same key. */
  execute(request: ActionRequest): Promise<ActionOutcome>;
}
