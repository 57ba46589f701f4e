export { definePipeline } from "./define.ts";
export { NonRetryableError } from "../../core/errors.ts";
export { createRuns, RUNS_QUEUE, type Runs } from "./service.ts";
export type * from "./types.ts";
