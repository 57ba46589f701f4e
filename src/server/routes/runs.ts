import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { SluiceError } from "../../core/errors.ts";
import { hasScope, type Principal } from "../../pipeline/intake/scopes.ts";
import { RUN_STATUSES, SETTLED_STATUSES, type RunView } from "../../pipeline/runs/types.ts";
import type { Sluice } from "../../sluice.ts";
import { principalOf, requireScopes, spendBudget } from "../auth.ts";

/** Longest `GET /api/runs/{id}?wait=N` holds a request, in seconds. */
const MAX_RUN_WAIT_SECONDS = 60;
const SSE_POLL_MS = 250;

const id = z.string().min(1).max(200);
const name = z.string().min(1).max(100);
const entityKey = z.string().min(1).max(200);
const reason = z.string().min(1).max(1_000);
const workspace = z.string().min(1).max(64).optional().describe("Operator keys only: the workspace to act in (default: the key's own)");

const startBody = z.object({
  input: z.unknown(),
  client_request_id: z.string().min(1).max(255).optional(),
  entity_key: entityKey.optional(),
  tags: z.array(z.string().min(1).max(100)).max(20).optional(),
  callback_url: z.string().min(1).max(2_048).optional().describe("Where a signed webhook goes when the run settles (as POST /ai/jobs)"),
});

/** Operator keys may name any workspace; any other key acts in its own (naming another is a 404, as if absent). */
function workspaceFor(principal: Principal, requested: string | undefined): string {
  if (!requested || requested === principal.workspaceId) return principal.workspaceId;
  if (hasScope(principal, "operator")) return requested;
  throw new SluiceError("NOT_FOUND", `No workspace ${requested}`);
}

/** By-id reads and operations: an operator sees every workspace, anyone else their own. */
const scopeOf = (principal: Principal): string | undefined => (hasScope(principal, "operator") ? undefined : principal.workspaceId);
const actorOf = (principal: Principal) => `key:${principal.keyId}`;

/** Pipelines and runs (issue 12): start, read, follow, cancel, replay; events; entity state. */
export const runRoutes: FastifyPluginAsyncZod<{ sluice: Pick<Sluice, "intake" | "runs"> }> = async (app, { sluice }) => {
  const authenticate = (secret: string, client?: string) => sluice.intake.authenticate(secret, client);
  const budget = (kind: "reads") => spendBudget((ws, k) => sluice.intake.consume(ws, k), kind);
  const read = [requireScopes(authenticate, "jobs:read"), budget("reads")];
  const write = requireScopes(authenticate, "jobs:write");
  const admin = requireScopes(authenticate, "admin");
  const operator = requireScopes(authenticate, "operator");
  const { runs } = sluice;

  const waiting = new Set<AbortController>();
  app.addHook("preClose", async () => {
    for (const controller of waiting) controller.abort();
  });
  const abortable = (reply: FastifyReply): AbortController => {
    const controller = new AbortController();
    waiting.add(controller);
    reply.raw.once("close", () => {
      controller.abort();
      waiting.delete(controller);
    });
    return controller;
  };

  app.get(
    "/api/pipelines",
    {
      onRequest: read,
      schema: { tags: ["runs"], summary: "Registered pipelines, with their input schema and declared state transitions" },
    },
    async () => ({ pipelines: runs.pipelines() }),
  );

  app.post(
    "/api/pipelines/:name/runs",
    {
      onRequest: write,
      schema: {
        tags: ["runs"],
        summary: "Start a run; the same client_request_id returns the earlier run",
        params: z.object({ name }),
        body: startBody,
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await sluice.intake.consume(principal.workspaceId);
      const { body } = request;
      const started = await runs.start({
        pipeline: request.params.name,
        workspace: principal.workspaceId,
        input: body.input,
        entityKey: body.entity_key,
        tags: body.tags,
        clientRequestId: body.client_request_id,
        callbackUrl: body.callback_url,
      });
      return reply.status(started.created ? 202 : 200).send({ id: started.id, status: started.status, duplicate: !started.created });
    },
  );

  app.get(
    "/api/runs",
    {
      onRequest: read,
      schema: {
        tags: ["runs"],
        summary: "The workspace's runs, newest first; filters pipeline, status, tag, entity",
        querystring: z.object({
          pipeline: name.optional(),
          status: z.enum(RUN_STATUSES).optional(),
          tag: z.string().min(1).max(100).optional(),
          entity: entityKey.optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: id.optional(),
          workspace,
        }),
      },
    },
    async (request) => {
      const q = request.query;
      const principal = principalOf(request);
      return runs.list({
        workspace: workspaceFor(principal, q.workspace),
        pipeline: q.pipeline,
        status: q.status,
        tag: q.tag,
        entityKey: q.entity,
        beforeId: q.cursor,
        limit: q.limit,
      });
    },
  );

  app.get(
    "/api/runs/:id",
    {
      onRequest: read,
      schema: {
        tags: ["runs"],
        summary: `One run with its steps (timing, attempts, result, error); wait=N (up to ${MAX_RUN_WAIT_SECONDS} s) answers once it settles or N seconds pass`,
        params: z.object({ id }),
        querystring: z.object({ wait: z.coerce.number().int().min(0).max(MAX_RUN_WAIT_SECONDS).optional() }),
      },
    },
    async (request, reply) => {
      const scope = scopeOf(principalOf(request));
      if (!request.query.wait) return runs.get(request.params.id, scope);
      const controller = abortable(reply);
      return runs.waitFor(request.params.id, scope, request.query.wait * 1_000, controller.signal);
    },
  );

  app.get(
    "/api/runs/:id/events",
    {
      onRequest: read,
      schema: {
        tags: ["runs"],
        summary: "Server-Sent Events of a run's progress: `run` on each status change, `step` on each step change; ends when it settles",
        params: z.object({ id }),
      },
    },
    async (request, reply) => {
      const scope = scopeOf(principalOf(request));
      const first = await runs.get(request.params.id, scope);
      await streamRun(request, reply, first, () => runs.get(request.params.id, scope), abortable(reply).signal);
    },
  );

  app.post(
    "/api/runs/:id/cancel",
    {
      onRequest: admin,
      schema: {
        tags: ["runs"],
        summary: "Cancel a run (audited); a settled run is 409",
        params: z.object({ id }),
        body: z.object({ reason: reason.optional() }).optional(),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return runs.cancel(
        request.params.id,
        { actor: actorOf(principal), workspace: scopeOf(principal) ?? null },
        request.body?.reason ?? null,
      );
    },
  );

  app.post(
    "/api/runs/cancel",
    {
      onRequest: admin,
      schema: {
        tags: ["runs"],
        summary: "Cancel every unsettled run with a tag, e.g. a campaign (seed 003 §2.4; audited)",
        body: z.object({ tag: z.string().min(1).max(100), reason: reason.optional(), workspace }),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return runs.cancelByTag(
        request.body.tag,
        { actor: actorOf(principal), workspace: workspaceFor(principal, request.body.workspace) },
        request.body.reason ?? null,
      );
    },
  );

  app.post(
    "/api/runs/:id/replay",
    {
      onRequest: admin,
      schema: {
        tags: ["runs"],
        summary: "Run a settled run again from a step (default: its failed step); earlier steps keep their results",
        params: z.object({ id }),
        body: z.object({ from_step: z.string().min(1).max(200).optional() }).optional(),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      return reply
        .status(202)
        .send(
          await runs.replay(
            request.params.id,
            { actor: actorOf(principal), workspace: scopeOf(principal) ?? null },
            request.body?.from_step,
          ),
        );
    },
  );

  const entityParams = z.object({ pipeline: name, key: entityKey });
  app.get(
    "/api/entities/:pipeline/:key",
    {
      onRequest: read,
      schema: {
        tags: ["runs"],
        summary: "An entity's current state and latest transitions",
        params: entityParams,
        querystring: z.object({ workspace }),
      },
    },
    async (request) =>
      runs.entityState(request.params.pipeline, request.params.key, workspaceFor(principalOf(request), request.query.workspace)),
  );

  app.post(
    "/api/entities/:pipeline/:key/rerun",
    {
      onRequest: admin,
      schema: {
        tags: ["runs"],
        summary: "Start a new run for the entity with its latest run's input (seed 003 §2.2; audited)",
        params: entityParams,
        body: z.object({ workspace }).optional(),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const started = await runs.rerunEntity(request.params.pipeline, request.params.key, {
        actor: actorOf(principal),
        workspace: workspaceFor(principal, request.body?.workspace),
      });
      return reply.status(202).send({ id: started.id, status: started.status });
    },
  );

  app.post(
    "/api/entities/:pipeline/:key/state",
    {
      onRequest: operator,
      schema: {
        tags: ["runs"],
        summary:
          "Force an entity's state with a reason (seed 003 §2.1); the declared transitions apply unless bypass_rules; audited with before and after",
        params: entityParams,
        body: z.object({ state: z.string().min(1).max(100), reason, bypass_rules: z.boolean().default(false), workspace }),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { body } = request;
      return runs.setEntityState(
        request.params.pipeline,
        request.params.key,
        { actor: actorOf(principal), workspace: workspaceFor(principal, body.workspace) },
        { state: body.state, reason: body.reason, bypassRules: body.bypass_rules },
      );
    },
  );

  app.post(
    "/api/events",
    {
      onRequest: write,
      schema: {
        tags: ["runs"],
        summary: "Send an event: every step of the workspace's runs waiting for it (waitForEvent) with a matching payload resumes",
        body: z.object({ name: z.string().min(1).max(200), payload: z.unknown().optional() }),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await sluice.intake.consume(principal.workspaceId);
      return reply.status(202).send(await runs.sendEvent(principal.workspaceId, request.body.name, request.body.payload ?? null));
    },
  );
};

/** Writes the run as SSE until it settles, the client leaves, or the server closes. */
async function streamRun(
  request: FastifyRequest,
  reply: FastifyReply,
  first: RunView,
  read: () => Promise<RunView>,
  signal: AbortSignal,
): Promise<void> {
  reply.hijack();
  reply.raw.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-request-id": String(request.id),
  });
  const send = (event: string, data: unknown) => reply.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const stepKey = (s: NonNullable<RunView["steps"]>[number]) => `${s.status}/${s.attempts}`;
  const seen = new Map<string, string>();
  let status = "";
  let run = first;
  try {
    for (;;) {
      if (run.status !== status) {
        status = run.status;
        const { steps: _steps, ...rest } = run;
        send("run", rest);
      }
      for (const step of run.steps ?? []) {
        if (seen.get(step.name) === stepKey(step)) continue;
        seen.set(step.name, stepKey(step));
        send("step", { run_id: run.id, ...step });
      }
      if (SETTLED_STATUSES.includes(run.status) || signal.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, SSE_POLL_MS));
      run = await read();
    }
    if (!signal.aborted) send("end", { id: run.id, status: run.status });
  } catch (err) {
    send("error", { code: err instanceof SluiceError ? err.code : "INTERNAL" });
  } finally {
    reply.raw.end();
  }
}
