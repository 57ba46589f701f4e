import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Sluice } from "../../sluice.ts";
import { requireScopes } from "../auth.ts";
import { actorOf } from "./admin-queues.ts";

const flagParams = z.object({ name: z.string().min(1).max(200) });
const setBody = z.object({ value: z.union([z.boolean(), z.number(), z.string().max(1000)]), reason: z.string().max(1000).optional() });
const unsetBody = z.object({ reason: z.string().max(1000).optional() }).nullish();

/** Runtime flags and kill switches (scope `operator`); every change lands in `action_audit`. */
export const flagRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "flags" | "intake" | "killSwitches" | "tasks"> }> = async (
  app,
  { sluice },
) => {
  const operator = requireScopes((secret, client) => sluice.intake.authenticate(secret, client), "operator");
  const tags = ["flags"];
  // Registered task types and configured providers are listed even while they have no override.
  const known = () => [
    ...sluice.tasks.names().map((t) => `task.${t}.enabled`),
    ...sluice.killSwitches.providers.map((p) => `provider.${p}.enabled`),
  ];

  app.get(
    "/api/flags",
    { onRequest: operator, schema: { tags, summary: "Every runtime flag: value, source (runtime, env, default), who set it" } },
    async () => ({
      flags: await sluice.flags.list(known()),
    }),
  );
  app.get("/api/flags/:name", { onRequest: operator, schema: { tags, summary: "One flag", params: flagParams } }, (request) =>
    sluice.flags.describe(request.params.name),
  );
  app.put(
    "/api/flags/:name",
    {
      onRequest: operator,
      schema: {
        tags,
        summary: "Set a flag (kill switch: task.<type>.enabled, provider.<name>.enabled)",
        params: flagParams,
        body: setBody,
      },
    },
    (request) => {
      const { actor, workspaceId, reason } = actorOf(request, request.body.reason);
      return sluice.flags.set(request.params.name, request.body.value, { actor, workspaceId, reason });
    },
  );
  app.delete(
    "/api/flags/:name",
    {
      onRequest: operator,
      schema: { tags, summary: "Remove a flag's override: back to its env default", params: flagParams, body: unsetBody },
    },
    (request) => {
      const { actor, workspaceId, reason } = actorOf(request, request.body?.reason);
      return sluice.flags.unset(request.params.name, { actor, workspaceId, reason });
    },
  );
};
