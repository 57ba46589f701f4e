import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { QueueAdmin } from "../../pipeline/admin/queue-admin.ts";
import type { Sluice } from "../../sluice.ts";
import { requireScopes } from "../auth.ts";
import { actorOf, cleanBody, jobAnswer, queueParams, reasonBody } from "./admin-queues.ts";

/**
 * The paths the seed runbooks curl, served by the same admin operations, so their procedures work
 * as written (plus an operator key). Runbook 004 uses /api/queue/..., runbook 003 /api/admin/queues/...
 * Hidden from OpenAPI: /api/queues is the documented surface.
 */
export const runbookAliasRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "intake" | "queues">; admin: QueueAdmin }> = async (
  app,
  { sluice, admin: ops },
) => {
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  const hidden = { hide: true };
  const wrapped = async () => ({ queues: await ops.list() });

  // Runbook 004 §2, §8, §9
  app.get("/api/queue/stats", { onRequest: operator, schema: hidden }, wrapped);
  app.post("/api/queue/pause-all", { onRequest: operator, schema: { ...hidden, body: reasonBody } }, (r) =>
    ops.pauseAll(actorOf(r, r.body?.reason)),
  );
  app.post("/api/queue/resume-all", { onRequest: operator, schema: { ...hidden, body: reasonBody } }, (r) =>
    ops.resumeAll(actorOf(r, r.body?.reason)),
  );
  app.post("/api/queue/clean-all", { onRequest: operator, schema: { ...hidden, body: cleanBody } }, (r) =>
    ops.cleanAll(actorOf(r, r.body?.reason), { grace: r.body?.grace }),
  );
  app.post("/api/queue/:name/pause", { onRequest: operator, schema: { ...hidden, params: queueParams, body: reasonBody } }, (r) =>
    ops.pause(actorOf(r, r.body?.reason), r.params.name),
  );
  app.post("/api/queue/:name/resume", { onRequest: operator, schema: { ...hidden, params: queueParams, body: reasonBody } }, (r) =>
    ops.resume(actorOf(r, r.body?.reason), r.params.name),
  );
  app.post("/api/queue/:name/clean", { onRequest: operator, schema: { ...hidden, params: queueParams, body: cleanBody } }, (r) =>
    ops.clean(actorOf(r, r.body?.reason), r.params.name, { grace: r.body?.grace, status: r.body?.status, limit: r.body?.limit }),
  );

  // Runbook 003 §1.2, §3, §6.2
  app.get("/api/admin/queues", { onRequest: operator, schema: hidden }, wrapped);
  app.get("/api/admin/queues/:name/failed", { onRequest: operator, schema: { ...hidden, params: queueParams } }, async (r) =>
    (await sluice.queues.jobs(r.params.name, "failed", { limit: 100 })).jobs.map(jobAnswer),
  );
  app.post(
    "/api/admin/queues/:name/retry-all",
    { onRequest: operator, schema: { ...hidden, params: queueParams, body: reasonBody } },
    (r) => ops.retryAll(actorOf(r, r.body?.reason), r.params.name),
  );
  app.post("/api/admin/queues/:name/clean", { onRequest: operator, schema: { ...hidden, params: queueParams, body: cleanBody } }, (r) =>
    ops.clean(actorOf(r, r.body?.reason), r.params.name, { grace: r.body?.grace, status: r.body?.status, limit: r.body?.limit }),
  );
};
