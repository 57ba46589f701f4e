import { SluiceError, type ErrorCode } from "../../core/errors.ts";
import type { Queryable } from "../../ports/store.ts";
import { ACTIONS_FLAG } from "../flags/names.ts";
import type { ActionPolicyVerdict } from "../runs/contracts.ts";
import type { ActionRegistry } from "./define.ts";
import { deleteWorkspaceAllowlist, selectWorkspaceAllowlist, upsertWorkspaceAllowlist } from "./sql.ts";

/**
 * The one gate every action passes, in this order: the action exists (ACTION_UNKNOWN), actions are
 * on (flag `actions.enabled`, env default ACTIONS_ENABLED: ACTIONS_DISABLED), the workspace may
 * use it (its own allowlist, else ALLOW_ACTIONS_DEFAULT; `*` allows all: ACTION_NOT_ALLOWED).
 * `requiresApproval` comes from the definition or ACTIONS_REQUIRE_APPROVAL.
 */
export interface ActionPolicyOptions {
  store: Queryable;
  registry: ActionRegistry;
  flags: { isEnabled(name: string): Promise<boolean> };
  allowDefault: readonly string[];
  requireApproval: readonly string[];
}

export interface EffectivePolicy {
  enabled: boolean;
  /** The list in force for the workspace and where it comes from. */
  allowed: string[];
  source: "workspace" | "default";
  requireApproval: string[];
}

export interface ActionPolicy {
  verdict(workspace: string, action: string): Promise<ActionPolicyVerdict>;
  /** Throws the verdict's refusal as a SluiceError. */
  assertAllowed(verdict: ActionPolicyVerdict): void;
  effective(workspace: string): Promise<EffectivePolicy>;
  /** null removes the workspace's own list: back to ALLOW_ACTIONS_DEFAULT. */
  setWorkspaceAllowlist(workspace: string, actions: readonly string[] | null, actor: string): Promise<EffectivePolicy>;
}

const refusal = (code: ErrorCode, reason: string): ActionPolicyVerdict => ({ allowed: false, requiresApproval: false, code, reason });

export function createActionPolicy(options: ActionPolicyOptions): ActionPolicy {
  const { store, registry, flags } = options;
  const requireApproval = new Set(options.requireApproval);

  async function allowlist(workspace: string): Promise<{ allowed: string[]; source: "workspace" | "default" }> {
    const own = await selectWorkspaceAllowlist(store, workspace);
    return own ? { allowed: own, source: "workspace" } : { allowed: [...options.allowDefault], source: "default" };
  }

  async function effective(workspace: string): Promise<EffectivePolicy> {
    const [enabled, list] = await Promise.all([flags.isEnabled(ACTIONS_FLAG), allowlist(workspace)]);
    const approval = registry
      .list()
      .filter((a) => a.requiresApproval || requireApproval.has(a.name))
      .map((a) => a.name);
    return { enabled, ...list, requireApproval: approval };
  }

  return {
    async verdict(workspace, action) {
      const definition = registry.get(action);
      if (!definition) return refusal("ACTION_UNKNOWN", `Unknown action "${action}"`);
      if (!(await flags.isEnabled(ACTIONS_FLAG))) return refusal("ACTIONS_DISABLED", `Actions are switched off (flag ${ACTIONS_FLAG})`);
      const { allowed, source } = await allowlist(workspace);
      if (!allowed.includes("*") && !allowed.includes(action)) {
        const where = source === "workspace" ? `workspace ${workspace}'s allowed_actions` : "ALLOW_ACTIONS_DEFAULT";
        return refusal("ACTION_NOT_ALLOWED", `Action "${action}" is not in ${where}`);
      }
      return { allowed: true, requiresApproval: Boolean(definition.requiresApproval) || requireApproval.has(action) };
    },
    assertAllowed(verdict) {
      if (verdict.allowed) return;
      const code = (verdict.code ?? "ACTION_NOT_ALLOWED") as ErrorCode;
      throw new SluiceError(code, verdict.reason);
    },
    effective,
    async setWorkspaceAllowlist(workspace, actions, actor) {
      if (actions === null) await deleteWorkspaceAllowlist(store, workspace);
      else await upsertWorkspaceAllowlist(store, workspace, [...new Set(actions)].sort(), actor);
      return effective(workspace);
    },
  };
}
