import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import type { AdminActor, QueueAdmin } from "../../pipeline/admin/queue-admin.ts";
import { LISTABLE_STATES, type JobSummary, type ListableState } from "../../pipeline/queues/types.ts";
import type { Sluice } from "../../sluice.ts";
import { principalOf, requireScopes } from "../auth.ts";

export const queueParams = z.object({ name: z.string().min(1).max(100) });
const jobParams = z.object({ name: z.string().min(1).max(100), id: z.string().min(1).max(200) });
/** Optional on every admin action; it lands in the audit log. */
export const reasonBody = z.object({ reason: z.string().max(1000).optional() }).nullish();
export const cleanBody = z
  .object({
    grace: z.union([z.number().nonnegative(), z.string().max(20)]).optional(),
    status: z.string().max(20).optional(),
    limit: z.number().int().positive().max(1_000_000).optional(),
    reason: z.string().max(1000).optional(),
  })
  .nullish();
const jobsQuery = z.object({
  state: z.enum(LISTABLE_STATES as [ListableState, ...ListableState[]]).default("failed"),
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

/**
 * A job as the HTTP API shows it: snake_case like every answer. `data`, `returnvalue` and
 * `progress` are the job's own payload, result and reported progress, kept as they are.
 */
export function jobAnswer(job: JobSummary) {
  const { attemptsMade, interruptedRuns, maxAttempts, failedReason, ...rest } = job;
  return {
    ...rest,
    attempts_made: attemptsMade,
    interrupted_runs: interruptedRuns,
    max_attempts: maxAttempts,
    failed_reason: failedReason,
  };
}

/** The audit actor of an admin request: its key, its workspace, and the reason from body or `X-Sluice-Reason`. */
export function actorOf(request: FastifyRequest, bodyReason?: string): AdminActor {
  const principal = principalOf(request);
  const header = request.headers["x-sluice-reason"];
  return {
    actor: `key:${principal.keyId}`,
    workspaceId: principal.workspaceId,
    reason: bodyReason ?? (typeof header === "string" ? header : undefined),
  };
}

/** Queue admin (scope `operator`): runbook 004's queue management and runbook 003's queue recovery. */
export const adminQueueRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "intake" | "queues">; admin: QueueAdmin }> = async (
  app,
  { sluice, admin: ops },
) => {
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  const tags = ["queues"];

  app.get("/api/queues", { onRequest: operator, schema: { tags, summary: "Every queue with its counts, paused flag and workers" } }, () =>
    ops.list(),
  );
  app.get(
    "/api/admin/queues/:name",
    {
      onRequest: operator,
      schema: {
        tags,
        summary: "A queue group's queues (QUEUE_GROUPS; or one queue by name), each with its counts against its thresholds",
        params: queueParams,
      },
    },
    (request) => ops.group(request.params.name),
  );
  app.get("/api/queues/:name", { onRequest: operator, schema: { tags, summary: "One queue's counts", params: queueParams } }, (request) =>
    ops.stats(request.params.name),
  );
  app.post(
    "/api/queues/pause-all",
    { onRequest: operator, schema: { tags, summary: "Pause every queue (deploys)", body: reasonBody } },
    (request) => ops.pauseAll(actorOf(request, request.body?.reason)),
  );
  app.post(
    "/api/queues/resume-all",
    { onRequest: operator, schema: { tags, summary: "Resume every queue", body: reasonBody } },
    (request) => ops.resumeAll(actorOf(request, request.body?.reason)),
  );
  app.post(
    "/api/queues/clean-all",
    {
      onRequest: operator,
      schema: { tags, summary: "Remove completed and failed jobs older than grace (default 24h) on every queue", body: cleanBody },
    },
    (request) => ops.cleanAll(actorOf(request, request.body?.reason), { grace: request.body?.grace }),
  );
  app.post(
    "/api/queues/:name/pause",
    {
      onRequest: operator,
      schema: { tags, summary: "Pause a queue: it accepts jobs and hands none out", params: queueParams, body: reasonBody },
    },
    (request) => ops.pause(actorOf(request, request.body?.reason), request.params.name),
  );
  app.post(
    "/api/queues/:name/resume",
    { onRequest: operator, schema: { tags, summary: "Resume a queue", params: queueParams, body: reasonBody } },
    (request) => ops.resume(actorOf(request, request.body?.reason), request.params.name),
  );
  app.post(
    "/api/queues/:name/retry-all",
    { onRequest: operator, schema: { tags, summary: "Move every failed job back to waiting", params: queueParams, body: reasonBody } },
    (request) => ops.retryAll(actorOf(request, request.body?.reason), request.params.name),
  );
  app.post(
    "/api/queues/:name/clean",
    {
      onRequest: operator,
      schema: {
        tags,
        summary: "Remove jobs in a state (default failed) older than grace (default 24h)",
        params: queueParams,
        body: cleanBody,
      },
    },
    (request) =>
      ops.clean(actorOf(request, request.body?.reason), request.params.name, {
        grace: request.body?.grace,
        status: request.body?.status,
        limit: request.body?.limit,
      }),
  );
  app.get(
    "/api/queues/:name/jobs",
    {
      onRequest: operator,
      schema: { tags, summary: "Jobs of a queue in one state (default failed)", params: queueParams, querystring: jobsQuery },
    },
    async (request) => {
      const page = await sluice.queues.jobs(request.params.name, request.query.state, {
        offset: request.query.offset,
        limit: request.query.limit,
      });
      return { ...page, jobs: page.jobs.map(jobAnswer) };
    },
  );
  app.get(
    "/api/queues/:name/jobs/:id",
    { onRequest: operator, schema: { tags, summary: "One job, any workspace", params: jobParams } },
    async (request) => jobAnswer(await sluice.queues.getJob(request.params.name, request.params.id)),
  );
  app.post(
    "/api/queues/:name/jobs/:id/retry",
    { onRequest: operator, schema: { tags, summary: "Retry one failed job", params: jobParams, body: reasonBody } },
    async (request) => jobAnswer(await ops.retryJob(actorOf(request, request.body?.reason), request.params.name, request.params.id)),
  );
  app.delete(
    "/api/queues/:name/jobs/:id",
    { onRequest: operator, schema: { tags, summary: "Remove one job (refused while a worker holds it)", params: jobParams } },
    (request) => ops.removeJob(actorOf(request), request.params.name, request.params.id),
  );
};
