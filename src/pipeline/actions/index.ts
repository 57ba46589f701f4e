import type { SluiceConfig } from "../../core/config.ts";
import type { Logger } from "../../core/logger.ts";
import type { Metrics } from "../../ports/metrics.ts";
import type { Queryable } from "../../ports/store.ts";
import type { AuditEntry } from "../audit/audit-log.ts";
import type { ApprovalRequester } from "../runs/contracts.ts";
import { registerBuiltinActions } from "./builtins/index.ts";
import { ActionRegistry, type ActionDefinition } from "./define.ts";
import { createActionExecutor, type LedgerExecutor } from "./executor.ts";
import { createActionPolicy, type ActionPolicy, type EffectivePolicy } from "./policy.ts";
import { listActionAudit, listExecutions, selectById, type ActionAuditRow, type ExecutionQuery, type ExecutionRow } from "./sql.ts";

export { defineAction, type ActionContext, type ActionDefinition } from "./define.ts";
export { outcomeOf } from "./executor.ts";
export type { ExecutionRow } from "./sql.ts";

export interface ActionsOptions {
  config: SluiceConfig;
  store: Queryable;
  flags: { isEnabled(name: string): Promise<boolean> };
  audit: { record(entry: AuditEntry): Promise<number>; complete(id: number, details: Record<string, unknown>): Promise<void> };
  logger: Logger;
  approvals?: ApprovalRequester;
  metrics?: Metrics;
}

interface ActionView {
  name: string;
  description: string | null;
  idempotent: boolean;
  requires_approval: boolean;
  /** Whether the caller's workspace may run it now (switch on and allowlisted). */
  allowed: boolean;
  refusal: string | null;
}

/** Actions: registry (built-ins + `sluice.action()`), the policy gate and the ledger executor. */
export interface Actions {
  readonly registry: ActionRegistry;
  readonly policy: ActionPolicy;
  /** The `ActionExecutor` the runs' `step.action` calls; also behind POST /api/actions/{name}/execute. */
  readonly executor: LedgerExecutor;
  register<A, R>(definition: ActionDefinition<A, R>): void;
  /** The registry with each action's effective policy for `workspace`. */
  describe(workspace: string): Promise<{ policy: EffectivePolicy; actions: ActionView[] }>;
  executions(query: ExecutionQuery): Promise<ExecutionRow[]>;
  execution(id: string): Promise<ExecutionRow | undefined>;
  /** The `action.*` entries of action_audit, newest first. */
  audit(query: { workspace?: string | undefined; limit?: number | undefined; beforeId?: number | undefined }): Promise<ActionAuditRow[]>;
}

export function createActions(options: ActionsOptions): Actions {
  const { config, store } = options;
  const registry = new ActionRegistry();
  registerBuiltinActions(registry, config.actions);
  const policy = createActionPolicy({
    store,
    registry,
    flags: options.flags,
    allowDefault: config.actions.allowDefault,
    requireApproval: config.actions.requireApproval,
  });
  const executor = createActionExecutor({
    store,
    registry,
    policy,
    audit: options.audit,
    logger: options.logger,
    leaseMs: config.actions.leaseMs,
    callTimeoutMs: config.actions.callTimeoutMs,
    approvals: options.approvals,
    metrics: options.metrics,
  });
  return {
    registry,
    policy,
    executor,
    register: (definition) => registry.register(definition),
    async describe(workspace) {
      const effective = await policy.effective(workspace);
      const actions = await Promise.all(
        registry.list().map(async (a): Promise<ActionView> => {
          const verdict = await policy.verdict(workspace, a.name);
          return {
            name: a.name,
            description: a.description ?? null,
            idempotent: Boolean(a.idempotent),
            requires_approval: effective.requireApproval.includes(a.name),
            allowed: verdict.allowed,
            refusal: verdict.code ?? null,
          };
        }),
      );
      return { policy: effective, actions };
    },
    executions: (query) => listExecutions(store, query),
    execution: (id) => selectById(store, id),
    audit: (query) => listActionAudit(store, query),
  };
}
