import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import { recentAttemptErrors } from "../../pipeline/ops/queue-errors.ts";
import { concurrencyFlag } from "../../pipeline/queues/worker-registry.ts";
import type { Sluice } from "../../sluice.ts";
import { requireScopes } from "../auth.ts";
import { actorOf } from "./admin-queues.ts";

const concurrencyBody = z.object({
  queue: z.string().min(1).max(100),
  /** null: back to what each worker was started with. */
  concurrency: z.number().int().min(1).max(1000).nullable(),
  reason: z.string().max(1000).optional(),
});

/** Worker processes (seed 003 §3.1 `curl /api/admin/workers/churn | jq '.workers'`, seed 004 "increase concurrency"), operator scope. */
export const adminWorkerRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "flags" | "intake" | "queues" | "workers"> }> = async (
  app,
  { sluice },
) => {
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  const tags = ["workers"];
  const mustExist = (queue: string) => {
    if (!sluice.queues.has(queue)) throw new SluiceError("QUEUE_NOT_FOUND", `No queue named "${queue}"`, { details: { queue } });
  };

  app.get(
    "/api/admin/workers",
    {
      onRequest: operator,
      schema: {
        tags,
        summary: "Every live worker process: host, pid, role, queues with concurrency and running jobs, started_at, last_seen",
      },
    },
    async () => ({
      workers: await sluice.workers.list(),
    }),
  );
  app.get(
    "/api/admin/workers/:name",
    {
      onRequest: operator,
      schema: {
        tags,
        summary: "The worker processes serving one queue, with their concurrency and running jobs on it",
        params: z.object({ name: z.string().min(1).max(100) }),
      },
    },
    async (request) => {
      mustExist(request.params.name);
      return { queue: request.params.name, workers: await sluice.workers.forQueue(request.params.name) };
    },
  );
  app.post(
    "/api/admin/workers/concurrency",
    {
      onRequest: operator,
      schema: {
        tags,
        summary:
          "Set how many jobs of a queue each worker runs at once, at run time (flag queue.<name>.concurrency, audited); null goes back to the configured value",
        body: concurrencyBody,
      },
    },
    async (request) => {
      const { queue, concurrency, reason } = request.body;
      mustExist(queue);
      const who = actorOf(request, reason);
      const change = { actor: who.actor, reason: who.reason, workspaceId: who.workspaceId };
      const flag =
        concurrency === null
          ? await sluice.flags.unset(concurrencyFlag(queue), change)
          : await sluice.flags.set(concurrencyFlag(queue), concurrency, change);
      await sluice.workers.refresh();
      return { queue, concurrency, flag };
    },
  );

  // Seed 003 §3.1 "Check recent errors", under the admin prefix the seed uses (GET /api/queues/{name}/errors is the documented path).
  app.get(
    "/api/admin/queues/:name/errors",
    {
      onRequest: operator,
      schema: {
        hide: true,
        params: z.object({ name: z.string().min(1).max(200) }),
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(10) }),
      },
    },
    async (request) => ({
      queue: request.params.name,
      errors: await recentAttemptErrors(sluice.queues, request.params.name, request.query.limit),
    }),
  );
};
