import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { packageVersion } from "../version.ts";
import type { Sluice } from "../sluice.ts";
import { inRequestLane } from "../core/request-lane.ts";
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from "./errors.ts";
import { registerHttpMetrics } from "./http-metrics.ts";
import { trackInFlight } from "./in-flight.ts";
import { registerJsonBodies, registerUrlTextCheck } from "./request-text.ts";
import { registerOpsAccess } from "./ops-access.ts";
import { adminBackupRoutes } from "./routes/admin-backup.ts";
import { adminOpsRoutes } from "./routes/admin-ops.ts";
import { adminKeyRoutes } from "./routes/admin-keys.ts";
import { healthRoutes } from "./routes/health.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { adminQueueRoutes } from "./routes/admin-queues.ts";
import { runbookAliasRoutes } from "./routes/runbook-aliases.ts";
import { flagRoutes } from "./routes/flags.ts";
import { cacheRoutes } from "./routes/cache.ts";
import { usageRoutes } from "./routes/usage.ts";
import { embeddingRoutes } from "./routes/embeddings.ts";
import { actionRoutes } from "./routes/actions.ts";
import { runRoutes } from "./routes/runs.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { approvalRoutes } from "./routes/approvals.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { adminWorkerRoutes } from "./routes/admin-workers.ts";
import { mountBullBoard } from "./bull-board.ts";

export interface ServerOptions {
  /** api: the jobs and admin API; worker: health and metrics only; all: everything. @default "all" */
  role?: "api" | "worker" | "all";
  /** Serve OpenAPI and its UI at /docs. @default DOCS_ENABLED is not "false" */
  docs?: boolean;
}

/** The HTTP shell: Fastify over one Sluice instance. It steers through the pipeline, never around it. */
export async function buildServer(sluice: Sluice, options: ServerOptions = {}): Promise<FastifyInstance> {
  const base = Fastify({
    // Our Logger is pino underneath; Fastify wants pino's own type.
    loggerInstance: sluice.logger.child({ component: "http" }) as unknown as FastifyBaseLogger,
    bodyLimit: sluice.config.server.bodyLimitBytes,
    // Per-request lines would dominate the log at load; errors are still logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: "idle",
    frameworkErrors,
    clientErrorHandler,
  });
  trackInFlight(base);
  // Statements made for a request go ahead of background ones on embedded PGlite (core/request-lane.ts).
  base.addHook("onRequest", (_request, _reply, done) => inRequestLane(done));
  registerErrorHandling(base);
  registerJsonBodies(base);
  registerUrlTextCheck(base);
  registerOpsAccess(base, sluice);
  registerHttpMetrics(base, sluice.metrics);
  const app = base.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  if (options.docs ?? sluice.config.ops.docs !== "false") {
    await app.register(swagger, {
      openapi: { info: { title: "Sluice API", version: "0.1.0", description: "Jobs, admin, health and metrics of a Sluice server" } },
      transform: jsonSchemaTransform,
    });
    await app.register(swaggerUi, { routePrefix: "/docs" });
  }

  await app.register(healthRoutes, { health: sluice.health, version: packageVersion() });
  const role = options.role ?? "all";
  if (role !== "worker") {
    await app.register(adminKeyRoutes, { sluice });
    await app.register(adminBackupRoutes, { sluice });
    await app.register(adminOpsRoutes, { sluice });
    await app.register(jobRoutes, { sluice });
    const admin = sluice.queueAdmin;
    await app.register(adminQueueRoutes, { sluice, admin });
    await app.register(runbookAliasRoutes, { sluice, admin });
    await app.register(flagRoutes, { sluice });
    await app.register(cacheRoutes, { sluice });
    await app.register(usageRoutes, { sluice });
    await app.register(embeddingRoutes, { sluice });
    await app.register(actionRoutes, { sluice });
    await app.register(runRoutes, { sluice });
    await app.register(webhookRoutes, { sluice });
    await app.register(approvalRoutes, { sluice });
    await app.register(scheduleRoutes, { sluice });
    await app.register(adminWorkerRoutes, { sluice });
    await mountBullBoard(base, sluice);
  }
  app.get("/metrics", { schema: { tags: ["metrics"], summary: "Prometheus metrics", hide: true } }, async (_request, reply) => {
    return reply.header("content-type", sluice.metrics.contentType).send(await sluice.metrics.render());
  });
  return base;
}
