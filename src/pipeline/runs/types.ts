import type { z } from "zod";
import type { StepError } from "./contracts.ts";

/** A run's life: `waiting` and `sleeping` runs hold no worker; the last three are settled. */
export const RUN_STATUSES = ["queued", "running", "waiting", "sleeping", "completed", "failed", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const SETTLED_STATUSES: readonly RunStatus[] = ["completed", "failed", "cancelled"];

export type StepKind = "task" | "run" | "action" | "approval" | "sleep" | "wait_event" | "set_state";
export type StepStatus = "running" | "retrying" | "waiting" | "sleeping" | "completed" | "failed";

/** How often a step may run and how long it waits between tries. */
export interface RetryPolicy {
  /** Runs in total, the first included. @default 3 */
  maxAttempts?: number;
  /** Wait before the second try. @default 1000 */
  backoffMs?: number;
  /** Each further wait is this many times the one before. @default 2 */
  factor?: number;
  /** @default 300000 */
  maxBackoffMs?: number;
}

/** Milliseconds, or a number with a unit: `500ms`, `30s`, `10m`, `2h`, `7d`. */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

export interface ApprovalDecision {
  approved: boolean;
  decided_by: string | null;
  reason: string | null;
}

interface StepApprovalRequest {
  /** `approval_type_configs.approval_type`. */
  approvalType: string;
  payload?: unknown;
  pipelineStage?: string;
  assignee?: string;
  dueInMs?: number;
}

interface ReceivedEvent {
  name: string;
  payload: unknown;
}

export interface StepOptions {
  retry?: RetryPolicy;
}

/**
 * What a pipeline's function calls. Every call is durable: its outcome is stored under its name,
 * and a re-invocation of the function gets the stored outcome back instead of running it again.
 * Names must be the same, in the same order, every time the function runs.
 */
export interface StepApi {
  readonly runId: string;
  readonly workspace: string;
  readonly entityKey: string | null;
  /** Runs a Sluice task (the same handlers as jobs, through the provider runtime). */
  task<O = unknown>(name: string, type: string, input: unknown, options?: StepOptions): Promise<O>;
  /** Runs arbitrary code once; at least once if the worker dies mid-call, so keep it idempotent. */
  run<T>(name: string, fn: () => Promise<T> | T, options?: StepOptions): Promise<T>;
  /** Calls an action through the policy gate (an approval step `${name}:approval` first when the policy asks for one). */
  action<O = unknown>(name: string, action: string, args: unknown, options?: StepOptions): Promise<O>;
  /** Waits, holding no worker, for a person's decision. */
  approval(name: string, request: StepApprovalRequest): Promise<ApprovalDecision>;
  /** Waits, holding no worker. */
  sleep(name: string, duration: Duration): Promise<void>;
  /** Waits for `POST /api/events` with this name whose payload has every field of `match`; null on timeout. */
  waitForEvent(name: string, spec: { event: string; match?: Record<string, unknown> }, timeout?: Duration): Promise<ReceivedEvent | null>;
  /** Moves the run's entity to `state`, if the pipeline declares the transition from its current one. */
  setState(state: string, reason?: string): Promise<void>;
}

export type PipelineFunction<I, O> = (input: I, step: StepApi) => Promise<O>;

export interface PipelineOptions<I> {
  /** Lower-case letters, digits, '.', '_', '-'. */
  name: string;
  /** Checked when a run starts: a bad input is a 400 then, not a failed run later. */
  input: z.ZodType<I>;
  /** Allowed entity state changes: `{ from: [to, ...] }`. Absent: any change is allowed. An entity with no state yet may enter any. */
  transitions?: Record<string, readonly string[]>;
  /** Every step's retry policy unless the step gives its own. */
  retry?: RetryPolicy;
  description?: string;
}

export interface PipelineDefinition<I = unknown, O = unknown> extends PipelineOptions<I> {
  readonly fn: PipelineFunction<I, O>;
}

export interface RunRow {
  id: string;
  pipeline: string;
  workspace: string;
  entity_key: string | null;
  tags: string[];
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: StepError | null;
  failed_step: string | null;
  client_request_id: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  /** Where the run's signed completion webhook goes, besides the workspace's default URL. */
  callback_url: string | null;
}

export interface StepRow {
  run_id: string;
  name: string;
  position: number;
  kind: StepKind;
  status: StepStatus;
  attempts: number;
  result: unknown;
  error: StepError | null;
  wake_at: Date | null;
  wait_event: string | null;
  wait_match: Record<string, unknown> | null;
  started_at: Date;
  finished_at: Date | null;
}

/** A run as the API shows it: its steps in call order, with timing. */
export interface RunView extends RunRow {
  steps?: StepView[];
}

export interface StepView {
  name: string;
  position: number;
  kind: StepKind;
  status: StepStatus;
  attempts: number;
  result: unknown;
  error: StepError | null;
  wake_at: Date | null;
  wait_event: string | null;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
}

export interface StartRunRequest {
  pipeline: string;
  workspace: string;
  input: unknown;
  entityKey?: string | undefined;
  tags?: readonly string[] | undefined;
  /** Same id in the same workspace and pipeline: the earlier run, not a second one. */
  clientRequestId?: string | undefined;
  /** A signed completion webhook goes here when the run settles; checked like POST /ai/jobs's callback_url. */
  callbackUrl?: string | undefined;
}

export interface StartedRun {
  id: string;
  status: RunStatus;
  /** False when `clientRequestId` named an earlier run. */
  created: boolean;
}
