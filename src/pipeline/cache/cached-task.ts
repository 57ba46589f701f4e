import type { TaskDefinition } from "../tasks/registry.ts";
import { cacheKey } from "./key.ts";
import type { CachePolicy, ResultCache } from "./result-cache.ts";

/**
 * Wraps a task so that its cacheable calls are answered from the cache when they can be, and
 * stored when they were not. Outputs get `cached: true|false` (objects only). Without a cache,
 * or with it disabled, the task is returned as it is.
 */
export function withCache<I, O>(
  cache: ResultCache | undefined,
  task: TaskDefinition<I, O>,
  policy: Omit<CachePolicy<I, O>, "run">,
): TaskDefinition<I, O> {
  if (!cache) return task;
  cache.register(task.name, { ...policy, run: task.handler });
  if (!cache.enabled) return task;
  return {
    ...task,
    handler: async (input, ctx) => {
      const parts = policy.keyOf(input);
      if (!parts) return task.handler(input, ctx);
      const key = cacheKey(parts);
      const hit = await cache.lookup<O>(key, task.name);
      if (hit !== undefined) return mark(hit, true);
      const output = await task.handler(input, ctx);
      if (policy.storable?.(output) ?? true) await cache.store(key, output);
      return mark(output, false);
    },
  };
}

function mark<O>(output: O, cached: boolean): O {
  if (!output || typeof output !== "object" || Array.isArray(output)) return output;
  const marked: O = { ...output, cached };
  return marked;
}
