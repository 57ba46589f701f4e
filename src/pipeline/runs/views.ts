import type { RunRow, RunView, StepRow, StepView } from "./types.ts";

/** A step as the API shows it: without its internal wait match, with its duration. */
function toStepView(row: StepRow): StepView {
  const started = row.started_at instanceof Date ? row.started_at : new Date(row.started_at);
  const finished = row.finished_at ? new Date(row.finished_at) : null;
  return {
    name: row.name,
    position: row.position,
    kind: row.kind,
    status: row.status,
    attempts: row.attempts,
    result: row.result ?? null,
    error: row.error ?? null,
    wake_at: row.wake_at,
    wait_event: row.wait_event,
    started_at: started,
    finished_at: finished,
    duration_ms: finished ? finished.getTime() - started.getTime() : null,
  };
}

export function toRunView(run: RunRow, steps?: readonly StepRow[]): RunView {
  return { ...run, tags: run.tags ?? [], ...(steps ? { steps: steps.map(toStepView) } : {}) };
}

/** Whether `payload` has every field of `match` (dot paths for nested fields), compared as JSON. */
export function eventMatches(match: Record<string, unknown> | null, payload: unknown): boolean {
  for (const [path, expected] of Object.entries(match ?? {})) {
    let value: unknown = payload;
    for (const part of path.split("."))
      value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
    if (JSON.stringify(value) !== JSON.stringify(expected)) return false;
  }
  return true;
}
