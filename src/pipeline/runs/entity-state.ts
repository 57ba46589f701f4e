import type { Store } from "../../ports/store.ts";
import type { StepError } from "./contracts.ts";
import { readEntityState, writeTransition, type EntityKey } from "./sql/entities.ts";
import { writeStep } from "./sql/steps.ts";
import type { PipelineDefinition, RunRow } from "./types.ts";

/** Whether the pipeline's declared transitions allow `from` → `to`; an entity without a state may enter any. */
export function transitionAllowed(transitions: PipelineDefinition["transitions"], from: string | null, to: string): boolean {
  if (!transitions || from === null || from === to) return true;
  return (transitions[from] ?? []).includes(to);
}

function refusal(from: string | null, to: string, transitions: PipelineDefinition["transitions"]): StepError {
  const allowed = from === null ? [] : (transitions?.[from] ?? []);
  return {
    code: "STATE_TRANSITION_NOT_ALLOWED",
    message: `No transition from "${from}" to "${to}" is declared (allowed from "${from}": ${allowed.join(", ") || "none"})`,
  };
}

/**
 * A step's transition: the check, the new state, its history row and the step's completion in
 * one transaction, so a worker dying anywhere leaves either all of it or none.
 */
export async function applyTransition(
  store: Store,
  t: { run: RunRow; definition: PipelineDefinition; to: string; reason: string | null; stepName: string; position: number },
): Promise<{ ok: true } | { ok: false; error: StepError }> {
  const { run } = t;
  if (!run.entity_key) return { ok: false, error: { code: "VALIDATION_FAILED", message: "step.setState needs a run with an entity key" } };
  const key: EntityKey = { workspace: run.workspace, pipeline: run.pipeline, entityKey: run.entity_key };
  return store.transaction(async (tx) => {
    const from = (await readEntityState(tx, key, true))?.state ?? null;
    if (!transitionAllowed(t.definition.transitions, from, t.to))
      return { ok: false as const, error: refusal(from, t.to, t.definition.transitions) };
    await writeTransition(tx, { ...key, from, to: t.to, reason: t.reason, actor: `run:${run.id}`, bypassRules: false });
    await writeStep(tx, {
      runId: run.id,
      name: t.stepName,
      position: t.position,
      kind: "set_state",
      status: "completed",
      attempts: 1,
      result: { from, to: t.to },
    });
    return { ok: true as const };
  });
}

export interface ForcedTransition {
  from: string | null;
  to: string;
}

/** A manual transition (seed 003 §2.1): checked against the declared ones unless `bypassRules`. */
export async function forceTransition(
  store: Store,
  key: EntityKey,
  request: { to: string; reason: string | null; actor: string; bypassRules: boolean; transitions: PipelineDefinition["transitions"] },
): Promise<{ ok: true; transition: ForcedTransition } | { ok: false; error: StepError; from: string | null }> {
  return store.transaction(async (tx) => {
    const from = (await readEntityState(tx, key, true))?.state ?? null;
    if (!request.bypassRules && !transitionAllowed(request.transitions, from, request.to))
      return { ok: false as const, error: refusal(from, request.to, request.transitions), from };
    await writeTransition(tx, {
      ...key,
      from,
      to: request.to,
      reason: request.reason,
      actor: request.actor,
      bypassRules: request.bypassRules,
    });
    return { ok: true as const, transition: { from, to: request.to } };
  });
}
