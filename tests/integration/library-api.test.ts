import { expect, it } from "vitest";
import { buildServer, createSluice, NonRetryableError, RetryLaterError, SluiceError, type TaskContext } from "../../src/index.ts";
import { sampleValue } from "../harness/metrics.ts";
import { until } from "../harness/wait.ts";
import { newEmbeddedDataDir } from "../harness/pglite-template.ts";

it("a user's own task type, registered through the library, runs behind the same jobs API and protections", async () => {
  const sluice = await createSluice({
    env: { LOG_LEVEL: "silent", SLUICE_DATA_DIR: newEmbeddedDataDir("sluice-lib-"), QUEUES: "tickets" },
  });
  const app = await buildServer(sluice, { docs: false });
  try {
    const seen: TaskContext[] = [];
    sluice.task(
      "ticket.triage",
      async (input: { title: string }, ctx) => {
        seen.push(ctx);
        if (input.title === "bad") throw new SluiceError("VALIDATION_FAILED", "cannot triage");
        if (input.title === "spam") throw new NonRetryableError("spam is never triaged", "TICKET_SPAM");
        return { priority: input.title.includes("down") ? "p1" : "p3" };
      },
      { queue: "tickets" },
    );
    await sluice.startWorkers();
    await sluice.intake.ensureWorkspace("acme", "Acme");
    const key = (await sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["jobs:write", "jobs:read"] })).secret;
    const submit = (title: string, id: string) =>
      app.inject({
        method: "POST",
        url: "/ai/jobs",
        headers: { authorization: `Bearer ${key}` },
        payload: { type: "ticket.triage", input: { title }, client_request_id: id },
      });
    const ok = (await submit("site is down", "t-1")).json<{ id: string; queue: string }>();
    expect(ok.queue).toBe("tickets");
    const done = await until(
      async () =>
        (await app.inject({ method: "GET", url: `/ai/jobs/${ok.id}`, headers: { authorization: `Bearer ${key}` } })).json<{
          status: string;
          result: unknown;
        }>(),
      (j) => j.status === "completed",
    );
    expect(done.result).toEqual({ priority: "p1" });
    expect(seen[0]).toMatchObject({ workspace: "acme", queue: "tickets", attempt: 1, jobId: ok.id });

    const failedJob = async (title: string, crid: string) => {
      const { id } = (await submit(title, crid)).json<{ id: string }>();
      return until(
        async () =>
          (await app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: { authorization: `Bearer ${key}` } })).json<{
            status: string;
            attempts: number;
            error: string;
          }>(),
        (j) => j.status === "failed",
      );
    };
    // A non-retryable error fails the job at once instead of spending its 3 attempts.
    const failed = await failedJob("bad", "t-2");
    expect(failed.attempts).toBe(1);
    expect(failed.error).toContain("VALIDATION_FAILED");

    // The library's NonRetryableError (the one pipeline steps throw) does the same in a task.
    const refused = await failedJob("spam", "t-3");
    expect(refused.attempts).toBe(1);
    // Its text is the handler's own, so a tenant sees the generic code, as for any handler error.
    expect(refused.error).toContain("TASK_FAILED");
  } finally {
    await app.close();
    await sluice.close();
  }
});

it("a user's task that throws the library's RetryLaterError is put back, delayed, without spending an attempt, then completes", async () => {
  const sluice = await createSluice({
    env: { LOG_LEVEL: "silent", SLUICE_DATA_DIR: newEmbeddedDataDir("sluice-lib-"), QUEUES: "crm" },
  });
  const app = await buildServer(sluice, { docs: false });
  try {
    const calls: Array<{ attempt: number; atMs: number }> = [];
    sluice.task(
      "crm.sync",
      async (input: { account: string }, ctx) => {
        calls.push({ attempt: ctx.attempt, atMs: Date.now() });
        // The CRM is not ready for this account yet: not the job's failure, so come back in 300 ms.
        if (calls.length === 1) throw new RetryLaterError("PROVIDER_UNAVAILABLE", 300, "the CRM is not ready");
        return { synced: input.account };
      },
      { queue: "crm" },
    );
    await sluice.startWorkers();
    await sluice.intake.ensureWorkspace("acme", "Acme");
    const key = (await sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["jobs:write", "jobs:read"] })).secret;
    const headers = { authorization: `Bearer ${key}` };
    const submitted = await app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers,
      payload: { type: "crm.sync", input: { account: "A-7" }, client_request_id: "sync-1" },
    });
    expect(submitted.statusCode).toBe(202);
    const { id } = submitted.json<{ id: string }>();
    const done = await until(
      async () =>
        (await app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers })).json<{ status: string; attempts: number; result: unknown }>(),
      (j) => j.status === "completed" || j.status === "failed",
    );
    expect(done).toMatchObject({ status: "completed", attempts: 1, result: { synced: "A-7" } });
    // Run twice, both as attempt 1, the second no sooner than the error asked.
    expect(calls.map((c) => c.attempt)).toEqual([1, 1]);
    expect(calls[1]!.atMs - calls[0]!.atMs).toBeGreaterThanOrEqual(300);
    expect(sampleValue(await sluice.metrics.render(), "ai_jobs_deferred_total", 'queue="crm",code="PROVIDER_UNAVAILABLE"')).toBe(1);
  } finally {
    await app.close();
    await sluice.close();
  }
});
