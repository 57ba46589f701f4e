import type { SluiceConfig } from "../../core/config.ts";
import type { FlagValue } from "./flags.ts";

/**
 * The flag names Sluice itself reads. Names are part of the operator contract (runbooks, the
 * `sluice flags` CLI): never rename one.
 *
 * | flag | env default | effect when false |
 * | --- | --- | --- |
 * | `task.<type>.enabled` | `DISABLED_TASKS` | intake refuses the type (503 `TASK_DISABLED`); queued jobs wait |
 * | `provider.<name>.enabled` | `DISABLED_PROVIDERS` | the runtime skips the provider; fallbacks serve |
 * | `embeddings.backfill.enabled` | `OPENAI_EMBEDDING_BACKFILL_ENABLED` | the backfill stops claiming work |
 * | `actions.enabled` | `ACTIONS_ENABLED` | every action is refused (`ACTIONS_DISABLED`), audited |
 */
export const taskFlag = (type: string): string => `task.${type}.enabled`;
export const providerFlag = (name: string): string => `provider.${name}.enabled`;
export const EMBEDDINGS_BACKFILL_FLAG = "embeddings.backfill.enabled";
export const ACTIONS_FLAG = "actions.enabled";

/** The defaults the environment gives the flags above, for `createRuntimeFlags({defaults})`. */
export function flagDefaultsFromConfig(
  config: SluiceConfig,
  known: { tasks?: readonly string[]; providers?: readonly string[] } = {},
): Record<string, FlagValue> {
  const disabledTasks = new Set(config.flags.disabledTasks);
  const disabledProviders = new Set(config.flags.disabledProviders);
  const defaults: Record<string, FlagValue> = {
    [EMBEDDINGS_BACKFILL_FLAG]: config.embeddings.backfillEnabled,
    [ACTIONS_FLAG]: config.actions.enabled,
  };
  for (const type of new Set([...(known.tasks ?? []), ...disabledTasks])) defaults[taskFlag(type)] = !disabledTasks.has(type);
  for (const name of new Set([...(known.providers ?? []), ...disabledProviders]))
    defaults[providerFlag(name)] = !disabledProviders.has(name);
  return defaults;
}
