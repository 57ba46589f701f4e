import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { MAX_JOB_WAIT_SECONDS } from "../../pipeline/jobs/job-wait.ts";
import { JOB_LIST_STATUSES } from "../../pipeline/jobs/job-listing.ts";
import type { Sluice } from "../../sluice.ts";
import { principalOf, requireScopes, spendBudget } from "../auth.ts";

const submitBody = z.object({
  type: z.string().min(1).max(100),
  input: z.unknown(),
  client_request_id: z.string().min(1).max(255),
  queue: z.string().min(1).max(100).optional(),
  priority: z.number().int().min(1).max(2_097_152).optional(),
  callback_url: z.string().min(1).max(2_048).optional(),
});

const submitted = z.object({ id: z.string(), queue: z.string(), status: z.string(), duplicate: z.boolean() });

/** The jobs API of runbook 001: idempotent intake and workspace-scoped reads. */
export const jobRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "intake" | "jobs"> }> = async (app, { sluice }) => {
  const authenticate = (secret: string, client?: string) => sluice.intake.authenticate(secret, client);
  const write = requireScopes(authenticate, "jobs:write");
  const read = [requireScopes(authenticate, "jobs:read"), spendBudget((ws, kind) => sluice.intake.consume(ws, kind), "reads")];

  app.post(
    "/ai/jobs",
    {
      onRequest: write,
      schema: {
        tags: ["jobs"],
        summary: "Submit a job; the same client_request_id within 24 h returns the same job",
        body: submitBody,
        response: { 200: submitted, 202: submitted },
      },
    },
    async (request, reply) => {
      const job = await sluice.jobs.submit(principalOf(request), request.body);
      // 202 for a new job; 200 (and duplicate: true) when the request id maps to an earlier one.
      return reply
        .status(job.created ? 202 : 200)
        .send({ id: job.id, queue: job.queue, status: job.created ? "queued" : "duplicate", duplicate: !job.created });
    },
  );

  // Long-polls end early when the server closes, so a shutdown never waits out a 60 s wait.
  const waiting = new Set<AbortController>();
  app.addHook("preClose", async () => {
    for (const controller of waiting) controller.abort();
  });
  app.get(
    "/ai/jobs/:id",
    {
      onRequest: read,
      schema: {
        tags: ["jobs"],
        summary: `One job of the caller's workspace; with wait=N (up to ${MAX_JOB_WAIT_SECONDS} s) the answer waits until the job completes or fails, or N seconds pass`,
        params: z.object({ id: z.string().min(1).max(200) }),
        querystring: z.object({ wait: z.coerce.number().int().min(0).max(MAX_JOB_WAIT_SECONDS).optional() }),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (!request.query.wait) return sluice.jobs.get(principal, request.params.id);
      const controller = new AbortController();
      waiting.add(controller);
      // The client hanging up ends the wait: no reads on behalf of nobody.
      reply.raw.once("close", () => controller.abort());
      try {
        return await sluice.jobs.wait(principal, request.params.id, { waitMs: request.query.wait * 1_000, signal: controller.signal });
      } finally {
        waiting.delete(controller);
      }
    },
  );

  app.get(
    "/ai/jobs",
    {
      onRequest: read,
      schema: {
        tags: ["jobs"],
        summary:
          "The caller's jobs, newest first, from the workspace's job index, paged by cursor; filters status (queued = waiting + delayed), type, queue, since",
        querystring: z.object({
          status: z.enum(JOB_LIST_STATUSES).optional(),
          type: z.string().min(1).max(100).optional(),
          queue: z.string().max(100).optional(),
          since: z.string().max(40).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().max(200).optional(),
        }),
      },
    },
    async (request) => {
      const q = request.query;
      return sluice.jobs.list(principalOf(request), {
        status: q.status,
        type: q.type,
        queue: q.queue,
        since: q.since,
        limit: q.limit,
        cursor: q.cursor,
      });
    },
  );
};
