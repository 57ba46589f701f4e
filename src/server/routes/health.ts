import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { HealthRegistry } from "../../pipeline/health.ts";
import { snakeCaseKeys } from "../snake-case.ts";

const checkSchema = z.looseObject({ ok: z.boolean() });

/** Liveness, readiness and one endpoint per dependency, in the shapes the runbooks curl. */
export const healthRoutes: FastifyPluginAsyncZod<{ health: HealthRegistry; version: string }> = async (app, { health, version }) => {
  // Runbook 002 checks /api/v1/health: the same route under its path.
  app.get("/api/v1/health", { schema: { hide: true } }, async () => ({
    status: "healthy" as const,
    uptime_s: Math.round(process.uptime()),
  }));
  app.get(
    "/health",
    {
      schema: {
        tags: ["health"],
        summary: "Liveness: the process answers, with the Sluice version it runs",
        response: { 200: z.object({ status: z.literal("healthy"), uptime_s: z.number(), version: z.string() }) },
      },
    },
    async () => ({
      status: "healthy" as const,
      uptime_s: Math.round(process.uptime()),
      version,
    }),
  );

  app.get(
    "/ready",
    {
      schema: {
        tags: ["health"],
        summary: "Readiness with every dependency check",
        response: {
          200: z.object({ ready: z.boolean(), checks: z.record(z.string(), checkSchema) }),
          503: z.object({ ready: z.boolean(), checks: z.record(z.string(), checkSchema) }),
        },
      },
    },
    async (_request, reply) => {
      const report = await health.ready();
      return reply.status(report.ready ? 200 : 503).send(snakeCaseKeys(report) as typeof report); // same shape; keys inside the checks become snake_case
    },
  );

  // /health/db -> {"connected": true}, /health/redis -> {"connected": true}, /health/llm -> {"available": true}
  app.get(
    "/health/:dependency",
    { schema: { tags: ["health"], summary: "One dependency's check", params: z.object({ dependency: z.string() }) } },
    async (request, reply) => {
      const result = await health.check(request.params.dependency);
      if (!result)
        return reply.status(404).send({
          error: { code: "NOT_FOUND", message: `No health check named ${request.params.dependency}`, details: { known: health.names() } },
        });
      return reply.status(result.ok ? 200 : 503).send(snakeCaseKeys(result));
    },
  );
};
