/** Runtime flags and the kill switches built on them. */
export { createRuntimeFlags, parseFlagValue, validateFlagName, type FlagChange, type FlagSource, type FlagState, type FlagValue, type RuntimeFlags, type RuntimeFlagsOptions } from "./flags.ts";
export { createKillSwitches, type KillSwitches, type KillSwitchesOptions } from "./kill-switches.ts";
export { ACTIONS_FLAG, EMBEDDINGS_BACKFILL_FLAG, flagDefaultsFromConfig, providerFlag, taskFlag } from "./names.ts";
