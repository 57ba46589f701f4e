import { createHash } from "node:crypto";
import { SluiceError, isSluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { Queryable } from "../../ports/store.ts";
import type { AuditEntry } from "../audit/audit-log.ts";
import type { ActionExecutor, ActionOutcome, ActionRequest, ApprovalRequester, ApprovalStatus } from "../runs/contracts.ts";
import type { ActionDefinition, ActionRegistry } from "./define.ts";
import type { ActionPolicy } from "./policy.ts";
import * as sql from "./sql.ts";
import type { ExecutionRow, Resolution } from "./sql.ts";

/** The approval type of an execution whose outcome a crash left unknown. */
const UNKNOWN_APPROVAL_TYPE = "action.unknown";

export interface ActionExecutorOptions {
  store: Queryable;
  registry: ActionRegistry;
  policy: ActionPolicy;
  audit: { record(entry: AuditEntry): Promise<number>; complete(id: number, details: Record<string, unknown>): Promise<void> };
  logger: Logger;
  /** ACTIONS_LEASE_MS: a `started` row silent for longer was cut off by a crash. */
  leaseMs: number;
  /** ACTIONS_CALL_TIMEOUT_MS: the call's AbortSignal fires then. */
  callTimeoutMs: number;
  /** Who is asked when an outcome is unknown; wired at the root (approvals). */
  approvals?: ApprovalRequester | undefined;
  /** Reads the decision on an approval task, so a decided `action.unknown` task settles its execution at the next call. */
  approvalDecision?: ApprovalDecisionLookup | undefined;
  /** sluice_actions_executed_total and sluice_action_duration_seconds; absent in unit set-ups. */
  metrics?: Metrics | undefined;
}

type CountedOutcome = "succeeded" | "failed" | "unknown" | "refused";

type ApprovalDecisionLookup = (
  workspace: string,
  approvalId: string,
) => Promise<{ status: ApprovalStatus; decidedBy?: string | null; reason?: string | null } | undefined>;

export interface LedgerExecutor extends ActionExecutor {
  /** A person's decision on an `unknown` execution: re-run it at the next call with its key, settle it as not run, or as done. */
  resolve(executionId: string, resolution: Resolution, decidedBy: string, reason?: string, result?: unknown): Promise<ExecutionRow>;
  /** Wires the approvals side after construction (the root builds both). */
  useApprovals(approvals: ApprovalRequester, decision?: ApprovalDecisionLookup): void;
  /** Called after a person resolved an execution directly (not through its approval task): the root closes the task and wakes the run. */
  onResolved(hook: (row: ExecutionRow, decidedBy: string, reason: string | undefined) => Promise<void>): void;
}

/** Sorted keys, so `{a,b}` and `{b,a}` hash alike. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

export const argsHash = (args: unknown): string => createHash("sha256").update(canonical(args)).digest("hex");

/** The outcome a settled or unknown row stands for. */
export function outcomeOf(row: ExecutionRow): ActionOutcome {
  if (row.status === "succeeded") return { status: "succeeded", result: row.result, executionId: row.id };
  if (row.status === "failed") {
    return {
      status: "failed",
      error: { code: row.error_code ?? "ACTION_FAILED", message: row.error_message ?? "" },
      retryable: row.retryable,
      executionId: row.id,
    };
  }
  return { status: "unknown", executionId: row.id, ...(row.approval_id ? { approvalId: row.approval_id } : {}) };
}

/**
 * The result as the ledger can keep it. The call has happened: a result jsonb cannot hold (a NUL,
 * a BigInt, a cycle) must not leave the row `started`, which a later caller would take for a crash.
 */
function storable(result: unknown): unknown {
  try {
    const text = JSON.stringify(result ?? null);
    return text.includes("\\u0000") ? { unstorable: "the result contains a NUL character" } : (JSON.parse(text) as unknown);
  } catch (err) {
    return { unstorable: err instanceof Error ? err.message : String(err) };
  }
}

function failureOf(err: unknown): { code: string; message: string; retryable: boolean } {
  if (isSluiceError(err)) return { code: err.code, message: err.message, retryable: err.retryable };
  const message = err instanceof Error ? err.message : String(err);
  // An uncoded throw may have happened after the effect: never retried on the same key.
  return { code: "ACTION_FAILED", message, retryable: false };
}

/**
 * The ledger: `started` is written before the call and heartbeated during it, the outcome after.
 * A later call with the same key gets the stored outcome; a `started` row whose heartbeat stopped
 * is a crash mid-call: re-run only when the action is idempotent, else `unknown` and a person is
 * asked. Together with the unique (workspace, key) this gives at most one call per key.
 */
export function createActionExecutor(options: ActionExecutorOptions): LedgerExecutor {
  const { store, registry, policy, audit, leaseMs } = options;
  let approvals = options.approvals;
  let approvalDecision = options.approvalDecision;
  let resolvedHook: ((row: ExecutionRow, decidedBy: string, reason: string | undefined) => Promise<void>) | undefined;
  const logger = options.logger.child({ component: "actions" });
  const executed = options.metrics?.counter({
    name: "sluice_actions_executed_total",
    help: "Action executions by outcome: succeeded, failed, unknown (a crash cut the call off), refused (policy)",
    labelNames: ["action", "outcome"],
  });
  const duration = options.metrics?.histogram({
    name: "sluice_action_duration_seconds",
    help: "Duration of actions' calls to their target (succeeded or failed)",
    labelNames: ["action"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  const count = (action: string, outcome: CountedOutcome) => executed?.inc({ action, outcome });

  async function refuse(request: ActionRequest, err: SluiceError): Promise<never> {
    count(request.action, "refused");
    await audit.record({
      actor: request.actor,
      action: "action.refused",
      workspaceId: request.workspace,
      target: request.action,
      details: { code: err.code, idempotency_key: request.idempotencyKey, reason: err.message },
    });
    throw err;
  }

  async function gate(request: ActionRequest): Promise<{ definition: ActionDefinition; args: unknown }> {
    const verdict = await policy.verdict(request.workspace, request.action);
    try {
      policy.assertAllowed(verdict);
      if (verdict.requiresApproval && !request.approvedBy)
        throw new SluiceError("ACTION_APPROVAL_REQUIRED", `Action "${request.action}" runs only after a person approved it`);
      const definition = registry.require(request.action);
      return { definition, args: registry.parseArgs(definition, request.args) };
    } catch (err) {
      if (isSluiceError(err)) return refuse(request, err);
      throw err;
    }
  }

  /** The insert lost to the approval's unique index: another execution (another key) used it. */
  async function refuseUsedApproval(request: ActionRequest, approvalId: string): Promise<void> {
    const user = await sql.selectByConsumedApproval(store, approvalId);
    if (!user || user.idempotency_key === request.idempotencyKey) return;
    await refuse(
      request,
      new SluiceError(
        "APPROVAL_USED",
        `Approval ${approvalId} already authorised execution ${user.id} (idempotency key "${user.idempotency_key}"): an approval is used once`,
        { details: { approval_id: approvalId, execution_id: user.id, idempotency_key: user.idempotency_key } },
      ),
    );
  }

  async function call(definition: ActionDefinition, row: ExecutionRow, args: unknown, request: ActionRequest): Promise<ActionOutcome> {
    const auditId = await audit.record({
      actor: request.actor,
      action: "action.execute",
      workspaceId: row.workspace_id,
      target: row.action,
      details: {
        execution_id: row.id,
        idempotency_key: row.idempotency_key,
        attempt: row.attempts,
        approved_by: request.approvedBy ?? null,
        policy: "allowed",
        outcome: "started",
      },
    });
    const controller = new AbortController();
    const timeout = setTimeout(
      () =>
        controller.abort(new SluiceError("ACTION_FAILED", `Action call timed out after ${options.callTimeoutMs} ms`, { retryable: false })),
      options.callTimeoutMs,
    );
    const heartbeat = setInterval(
      () =>
        void sql.touchHeartbeat(store, row.id).catch((err: unknown) => logger.warn({ err, execution: row.id }, "action heartbeat failed")),
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    const ctx = {
      workspace: row.workspace_id,
      executionId: row.id,
      idempotencyKey: row.idempotency_key,
      actor: request.actor,
      attempt: row.attempts,
      signal: controller.signal,
      logger,
      store,
    };
    let settled: ExecutionRow | undefined;
    const began = performance.now();
    try {
      const result = await definition.execute(ctx, args);
      settled = await sql.settle(store, row.id, { status: "succeeded", result: storable(result) });
    } catch (err) {
      const failure = failureOf(err);
      logger.warn({ action: row.action, execution: row.id, code: failure.code }, "action failed");
      settled = await sql.settle(store, row.id, { status: "failed", ...failure });
    } finally {
      clearTimeout(timeout);
      clearInterval(heartbeat);
    }
    duration?.observe({ action: row.action }, (performance.now() - began) / 1000);
    const outcome = settled ? outcomeOf(settled) : outcomeOf((await sql.selectById(store, row.id))!);
    count(row.action, outcome.status);
    await audit.complete(auditId, { outcome: outcome.status, ...(outcome.status === "failed" ? { error: outcome.error.code } : {}) });
    return outcome;
  }

  async function announceUnknown(row: ExecutionRow, request: ActionRequest): Promise<ActionOutcome> {
    count(row.action, "unknown");
    await audit.record({
      actor: request.actor,
      action: "action.unknown",
      workspaceId: row.workspace_id,
      target: row.action,
      details: { execution_id: row.id, idempotency_key: row.idempotency_key, attempt: row.attempts },
    });
    logger.warn({ action: row.action, execution: row.id }, "action outcome unknown after a crash mid-call: not re-run, a person decides");
    return askPerson(row, request);
  }

  async function askPerson(row: ExecutionRow, request: ActionRequest): Promise<ActionOutcome> {
    if (!approvals) return outcomeOf(row);
    const payload = {
      execution_id: row.id,
      action: row.action,
      idempotency_key: row.idempotency_key,
      args: row.args,
      started_at: row.started_at,
      attempts: row.attempts,
    };
    const task = await approvals.request({
      workspace: row.workspace_id,
      approvalType: UNKNOWN_APPROVAL_TYPE,
      payload,
      attempt: row.attempts,
      ...(request.step ? { step: request.step } : {}),
    });
    await sql.setApproval(store, row.id, task.id);
    return { status: "unknown", executionId: row.id, approvalId: task.id };
  }

  /**
   * The person's answer on the `action.unknown` task: approved = run it again (once), rejected or
   * expired = do not run it again (failed, ACTION_SKIPPED). Undecided: the row as it is.
   */
  async function applyDecision(row: ExecutionRow): Promise<ExecutionRow> {
    if (row.resolution || !row.approval_id || !approvalDecision) return row;
    const decision = await approvalDecision(row.workspace_id, row.approval_id);
    if (!decision || decision.status === "pending" || decision.status === "escalated") return row;
    const resolution = decision.status === "approved" ? "retry" : "skip";
    const by = decision.decidedBy ?? `approval:${row.approval_id}`;
    const resolved = await sql.resolveUnknown(store, row.id, resolution, by, decision.reason ?? null);
    if (resolved)
      await audit.record({
        actor: by,
        action: "action.resolve",
        workspaceId: row.workspace_id,
        target: row.action,
        reason: decision.reason ?? null,
        details: { execution_id: row.id, resolution, approval_id: row.approval_id },
      });
    return resolved ?? (await sql.selectById(store, row.id)) ?? row;
  }

  /** What to do with the row an earlier attempt left under this key. */
  async function resume(definition: ActionDefinition, row: ExecutionRow, args: unknown, request: ActionRequest): Promise<ActionOutcome> {
    if (row.action !== request.action || row.args_hash !== argsHash(args)) {
      return refuse(
        request,
        new SluiceError(
          "ACTION_KEY_REUSED",
          `Idempotency key "${request.idempotencyKey}" was used for ${row.action} with other arguments`,
          { details: { execution_id: row.id, action: row.action } },
        ),
      );
    }
    if (row.status === "succeeded") return outcomeOf(row);
    if (row.status === "failed") {
      const again = row.retryable ? await sql.reclaim(store, row.id, "retryable", leaseMs, request.actor) : undefined;
      return again ? call(definition, again, args, request) : outcomeOf(row);
    }
    if (row.status === "unknown") {
      const decided = await applyDecision(row);
      if (decided.status !== "unknown") return outcomeOf(decided);
      const again = decided.resolution === "retry" ? await sql.reclaim(store, row.id, "approved", leaseMs, request.actor) : undefined;
      if (again) return call(definition, again, args, request);
      return row.approval_id ? outcomeOf(row) : askPerson(row, request);
    }
    if (definition.idempotent) {
      const again = await sql.reclaim(store, row.id, "stale", leaseMs, request.actor);
      if (again) return call(definition, again, args, request);
    } else {
      const unknown = await sql.markUnknown(store, row.id, leaseMs);
      if (unknown) return announceUnknown(unknown, request);
    }
    const now = await sql.selectById(store, row.id);
    if (now && now.status !== "started") return resume(definition, now, args, request);
    throw new SluiceError("ACTION_IN_PROGRESS", `Action "${row.action}" with key "${row.idempotency_key}" is running in another call`, {
      details: { execution_id: row.id },
    });
  }

  return {
    policy: (workspace, action) => policy.verdict(workspace, action),
    async execute(request) {
      const { definition, args } = await gate(request);
      const fresh = await sql.insertStarted(store, {
        workspace: request.workspace,
        action: request.action,
        idempotencyKey: request.idempotencyKey,
        argsHash: argsHash(args),
        args,
        actor: request.actor,
        runId: request.step?.runId ?? null,
        stepName: request.step?.stepName ?? null,
        approvedBy: request.approvedBy ?? null,
        approvalId: request.approvalId ?? null,
      });
      if (fresh) return call(definition, fresh, args, request);
      const existing = await sql.selectByKey(store, request.workspace, request.idempotencyKey);
      if (!existing) {
        if (request.approvalId) await refuseUsedApproval(request, request.approvalId);
        throw new SluiceError("ACTION_IN_PROGRESS", "The execution row vanished while it was read; try again", { retryable: true });
      }
      return resume(definition, existing, args, request);
    },
    async resolve(executionId, resolution, decidedBy, reason, result) {
      const row = await sql.resolveUnknown(store, executionId, resolution, decidedBy, reason ?? null, result);
      if (!row) {
        const current = await sql.selectById(store, executionId);
        if (!current) throw new SluiceError("NOT_FOUND", `No action execution ${executionId}`);
        throw new SluiceError("CONFLICT", `Execution ${executionId} is ${current.status}: only an unknown outcome is decided by a person`, {
          details: { status: current.status },
        });
      }
      await audit.record({
        actor: decidedBy,
        action: "action.resolve",
        workspaceId: row.workspace_id,
        target: row.action,
        reason: reason ?? null,
        details: { execution_id: row.id, resolution },
      });
      // The decision is in the ledger; a failure to tell the run is logged, and the run picks it up at its next wake.
      await resolvedHook?.(row, decidedBy, reason).catch((err: unknown) =>
        logger.error({ err, execution: row.id }, "could not wake the run waiting on a resolved execution"),
      );
      return row;
    },
    onResolved(hook) {
      resolvedHook = hook;
    },
    useApprovals(requester, decision) {
      approvals = requester;
      approvalDecision = decision ?? approvalDecision;
    },
  };
}
