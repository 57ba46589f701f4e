/** Runtime flags and the kill switches built on them. */
export { createRuntimeFlags, type RuntimeFlags } from "./flags.ts";
export { createKillSwitches, type KillSwitches } from "./kill-switches.ts";
export { EMBEDDINGS_BACKFILL_FLAG, flagDefaultsFromConfig } from "./names.ts";
