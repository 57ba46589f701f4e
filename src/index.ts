/**
 * Sluice as a library: build an instance from the environment (or a config), register your own
 * task types, run workers, and serve the HTTP API from your own process.
 *
 *   const sluice = await createSluice();
 *   sluice.task("ticket.triage", async (input, ctx) => ({ ... }));
 *   await sluice.startWorkers();
 *   const app = await buildServer(sluice); await app.listen({ port: 3000 });
 */
export { createSluice, DEFAULT_QUEUE, BATCH_QUEUE, type Sluice, type SluiceOptions } from "./sluice.ts";
export { buildServer, type ServerOptions } from "./server/app.ts";
export { loadConfig, type SluiceConfig } from "./core/config.ts";
export { ERROR_CATALOGUE, RateLimitedError, SluiceError, isSluiceError, type ErrorCode } from "./core/errors.ts";
// A task handler throws it for "not now" (a dependency not ready): the job is put back, delayed, without spending an attempt.
export { RetryLaterError, type RetryLaterCode } from "./core/errors.ts";
export type { TaskContext, TaskDefinition, TaskHandler } from "./pipeline/tasks/registry.ts";
export type { Principal, Scope } from "./pipeline/intake/scopes.ts";
export type { JobSummary, QueueListing } from "./pipeline/queues/types.ts";
export { signPayload, verifySignature, SIGNATURE_HEADER, type WebhookBody, type WebhookEvent } from "./pipeline/webhooks/index.ts";
export { defineAction, type ActionContext, type ActionDefinition } from "./pipeline/actions/index.ts";
export {
  definePipeline,
  NonRetryableError,
  RUNS_QUEUE,
  type Duration,
  type PipelineDefinition,
  type RetryPolicy,
  type RunView,
  type StepApi,
  type StepView,
} from "./pipeline/runs/index.ts";
export { APPROVALS_QUEUE, type ApprovalTaskJson, type ApprovalTypeJson, type OnDeadline } from "./pipeline/approvals/index.ts";
export { SCHEDULES_QUEUE, type ScheduleDefinition, type ScheduleJson, type ScheduleTarget } from "./pipeline/schedules/index.ts";
