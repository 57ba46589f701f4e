import { isSluiceError, SluiceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { TaskContext, TaskRegistry } from "../tasks/registry.ts";
import { cacheKey } from "./key.ts";
import type { ResultCache } from "./result-cache.ts";

/** One task call to pre-compute: what a job would send as `type` and `input`. */
export interface WarmItem {
  type: string;
  input: unknown;
}

type WarmStatus = "warmed" | "already_cached" | "not_cacheable" | "failed";

export interface WarmReport {
  requested: number;
  warmed: number;
  already_cached: number;
  not_cacheable: number;
  failed: number;
  items: Array<{ index: number; type: string; status: WarmStatus; key?: string; error?: { code: string; message: string } }>;
}

export interface WarmOptions {
  /** The workspace the provider calls are accounted to. */
  workspace: string;
  /** Recompute items already cached. @default false */
  refresh?: boolean;
  /** Calls at once. @default 4 */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface WarmDeps {
  cache: ResultCache;
  tasks: TaskRegistry;
  logger: Logger;
  /** Refuses an item the way intake would (kill switch, budget). */
  admit?: (type: string, workspace: string) => Promise<void>;
}

export const MAX_WARM_ITEMS = 1_000;

/**
 * Runs each item through its task's own handler (the provider runtime, with its limits, retries
 * and fallbacks) and stores the result, the way a job would have. Items run a few at a time; one
 * failing does not stop the others.
 */
export async function warmCache(deps: WarmDeps, items: readonly WarmItem[], options: WarmOptions): Promise<WarmReport> {
  if (items.length > MAX_WARM_ITEMS) throw new SluiceError("VALIDATION_FAILED", `At most ${MAX_WARM_ITEMS} items per warm-up`);
  const report: WarmReport = { requested: items.length, warmed: 0, already_cached: 0, not_cacheable: 0, failed: 0, items: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      const item = items[index] as WarmItem;
      const outcome = await warmOne(deps, item, index, options);
      report[outcome.status] += 1;
      report.items.push(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, Math.max(1, items.length)) }, worker));
  report.items.sort((a, b) => a.index - b.index);
  return report;
}

async function warmOne(deps: WarmDeps, item: WarmItem, index: number, options: WarmOptions): Promise<WarmReport["items"][number]> {
  const base = { index, type: item.type };
  try {
    const task = deps.tasks.require(item.type);
    const input = deps.tasks.parseInput(task, item.input);
    const policy = deps.cache.policy(task.name);
    const parts = policy?.keyOf(input);
    if (!policy || !parts) return { ...base, status: "not_cacheable" };
    const key = cacheKey(parts);
    if (!options.refresh && (await deps.cache.has(key))) return { ...base, status: "already_cached", key };
    await deps.admit?.(task.name, options.workspace);
    const output = await policy.run(input, warmContext(deps.logger, options, index));
    if (!(policy.storable?.(output) ?? true))
      return { ...base, status: "failed", key, error: { code: "PROVIDER_UNAVAILABLE", message: "only a fallback answered; not stored" } };
    await deps.cache.store(key, output);
    return { ...base, status: "warmed", key };
  } catch (err) {
    const error = isSluiceError(err)
      ? { code: err.code, message: err.message }
      : { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) };
    deps.logger.warn({ type: item.type, index, code: error.code }, "cache warm-up item failed");
    return { ...base, status: "failed", error };
  }
}

function warmContext(logger: Logger, options: WarmOptions, index: number): TaskContext {
  return {
    jobId: `cache-warm-${index}`,
    queue: "cache-warm",
    workspace: options.workspace,
    attempt: 1,
    signal: options.signal,
    logger: logger.child({ component: "cache-warm", index }),
    progress: async () => undefined,
  };
}
