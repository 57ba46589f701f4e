export { definePipeline, durationMs } from "./define.ts";
export { NonRetryableError } from "./invocation.ts";
export { createRuns, RUNS_QUEUE, type Runs, type RunsOptions } from "./service.ts";
export type * from "./types.ts";
