import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createJobsService } from "../../src/pipeline/jobs/jobs-service.ts";
import { createJobIndex } from "../../src/pipeline/jobs/job-index.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { createDatabase, startRestartablePostgres, startRestartableRedis, uniqueName, type RestartableServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep, until } from "../harness/wait.ts";
import { describeCasesAtOnce } from "../harness/cases-at-once.ts";

/**
 * Issue 8 item 6: an idempotency claim must never point at a job that was never queued. A claim is
 * pending until its job is queued; a request that failed or died in between leaves it pending, and
 * a repeat queues that same job id. Each engine keeps its claims in a different Kv.
 */
interface Engine {
  name: string;
  env: () => Promise<Record<string, string>>;
}

const engines: Engine[] = [
  {
    name: "Redis (claims and queues on Redis)",
    env: async () => ({ REDIS_URL: redisUrl(11), DATABASE_URL: await freshPostgresDatabase("claimfault"), VECTOR_SEARCH_ENABLED: "false" }),
  },
  {
    name: "PostgreSQL (claims in kv_entries, queues in schema bullmq)",
    env: async () => ({ DATABASE_URL: await freshPostgresDatabase("claimfault"), VECTOR_SEARCH_ENABLED: "false" }),
  },
  { name: "embedded PGlite", env: async () => ({}) },
];

// The Redis database is shared with later runs: workspaces are unique to this one.
const run = `${process.pid}-${Date.now().toString(36)}`;

describeCasesAtOnce(
  "idempotency claims and faults between claim and queue",
  engines,
  (e) => e.name,
  (engine) => {
    let t: TestSluice;
    let writer: string;
    let admin: string;
    const ws = `cf-${run}`;
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });
    const post = (crid: string, type = "echo") =>
      t.app.inject({ method: "POST", url: "/ai/jobs", headers: auth(writer), payload: { type, input: { crid }, client_request_id: crid } });
    const getJob = (id: string) => t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: auth(writer) });
    const jobsFor = async (crid: string) => {
      const states = ["waiting", "active", "delayed", "completed", "failed"] as const;
      const pages = await Promise.all(states.map((s) => t.sluice.queues.jobs("ai-jobs", s, { limit: 1000 })));
      return pages.flatMap((p) => p.jobs).filter((j) => (j.data as { client_request_id?: string }).client_request_id === crid);
    };

    beforeAll(async () => {
      t = await startTestSluice({ ...(await engine.env()), QUEUE_CONCURRENCY: "4", DISABLED_TASKS: "echo.held", FLAGS_CACHE_MS: "200" });
      t.sluice.task("echo", async (input: unknown) => input);
      t.sluice.task("echo.held", async (input: unknown) => input);
      await t.sluice.startWorkers();
      await t.sluice.intake.ensureWorkspace(ws, "Claims", { rateLimitPerMinute: 100_000 });
      writer = (await t.sluice.intake.createApiKey({ workspaceId: ws, scopes: ["jobs:write", "jobs:read"] })).secret;
      admin = (await t.sluice.intake.createApiKey({ workspaceId: ws, scopes: ["operator"] })).secret;
    }, 120_000);
    afterAll(async () => {
      await t?.close();
    });

    it("a request that died after its claim, before queueing: 100 concurrent retries queue that job once, and it runs", async () => {
      // What the dead request left behind: its claim, and no job.
      const jobId = randomUUID();
      expect(await t.sluice.intake.claim(ws, "died-1", jobId)).toEqual({ created: true, jobId });
      const results = await Promise.all(Array.from({ length: 100 }, () => post("died-1")));
      expect(results.map((r) => r.json<{ id: string }>().id)).toEqual(Array(100).fill(jobId));
      // One request completed the queueing and says so; every other one is told it is a duplicate.
      expect(results.filter((r) => r.statusCode === 202)).toHaveLength(1);
      expect(results.filter((r) => r.statusCode === 200 && r.json<{ duplicate: boolean }>().duplicate)).toHaveLength(99);
      expect((await getJob(jobId)).statusCode).toBe(200);
      await until(
        async () => (await getJob(jobId)).json<{ status: string }>(),
        (j) => j.status === "completed",
      );
      expect(await jobsFor("died-1")).toHaveLength(1);
      expect(await t.sluice.intake.inspectClaim(ws, "died-1")).toMatchObject({ jobId, confirmed: true });
    });

    it("a job queued whose claim was never confirmed: a repeat finds it, confirms the claim and queues nothing more", async () => {
      const jobId = randomUUID();
      await t.sluice.intake.claim(ws, "unconfirmed-1", jobId);
      const envelope = {
        workspace: ws,
        type: "echo",
        input: { crid: "unconfirmed-1" },
        client_request_id: "unconfirmed-1",
        submitted_by: "test",
      };
      await t.sluice.queues.add("ai-jobs", "echo", envelope, { jobId });
      const repeat = await post("unconfirmed-1");
      expect(repeat.json<{ id: string }>().id).toBe(jobId);
      expect(await t.sluice.intake.inspectClaim(ws, "unconfirmed-1")).toMatchObject({ jobId, confirmed: true });
      await until(
        async () => (await getJob(jobId)).json<{ status: string }>(),
        (j) => j.status === "completed",
      );
      const again = await post("unconfirmed-1");
      expect(again.statusCode).toBe(200);
      expect(again.json<{ id: string }>().id).toBe(jobId);
      expect(await jobsFor("unconfirmed-1")).toHaveLength(1);
    });

    it("a request refused between claim and queue (kill switch) keeps its claim pending; the retry once enabled queues that job", async () => {
      const refused = await post("held-1", "echo.held");
      expect(refused.statusCode).toBe(503);
      expect(refused.json().error.code).toBe("TASK_DISABLED");
      const pending = await t.sluice.intake.inspectClaim(ws, "held-1");
      expect(pending).toMatchObject({ confirmed: false });
      // Nothing to undo, so nothing can fail to be undone: the record already names the job a retry queues.
      expect((await getJob(pending!.jobId)).statusCode).toBe(404);
      const enabled = await t.app.inject({
        method: "PUT",
        url: "/api/flags/task.echo.held.enabled",
        headers: auth(admin),
        payload: { value: true, reason: "test" },
      });
      expect(enabled.statusCode).toBe(200);
      await sleep(300); // FLAGS_CACHE_MS
      const accepted = await post("held-1", "echo.held");
      expect(accepted.statusCode).toBe(202);
      expect(accepted.json<{ id: string }>().id).toBe(pending!.jobId);
      await until(
        async () => (await getJob(pending!.jobId)).json<{ status: string }>(),
        (j) => j.status === "completed",
      );
      expect(await t.sluice.intake.inspectClaim(ws, "held-1")).toMatchObject({ jobId: pending!.jobId, confirmed: true });
    });
  },
);

/**
 * The fault between the two steps for real: the server holding both the claim and the queue stops
 * right after the claim (so the queue write fails, and so would any undo of the claim), then comes
 * back with its data. The jobs service is Sluice's own, built from this Sluice's parts; only its
 * `admit` step, which runs between claim and queue, is where the test stops the server.
 */
interface RestartEngine {
  name: string;
  start: () => Promise<RestartableServer>;
  /** A clean stop that keeps the data: Redis saves its AOF on SIGTERM; PostgreSQL's SIGINT is the fast shutdown (SIGTERM waits for every client). */
  stop: NodeJS.Signals;
  env: (server: RestartableServer) => Promise<Record<string, string>>;
}

const restartEngines: RestartEngine[] = [
  {
    name: "Redis (appendonly, as a queue Redis runs)",
    start: () => startRestartableRedis(),
    stop: "SIGTERM",
    env: async (redis) => ({
      REDIS_URL: redis.url,
      DATABASE_URL: await freshPostgresDatabase("claimfault"),
      VECTOR_SEARCH_ENABLED: "false",
    }),
  },
  {
    name: "PostgreSQL (claims, queues and store on one server)",
    start: () => startRestartablePostgres(),
    stop: "SIGINT",
    env: async (pg) => ({ DATABASE_URL: await createDatabase(pg.url, uniqueName("claimfault")), VECTOR_SEARCH_ENABLED: "false" }),
  },
];

describeCasesAtOnce(
  "a restart between claim and queue",
  restartEngines,
  (e) => e.name,
  (engine) => {
    let server: RestartableServer;
    let t: TestSluice;
    beforeAll(async () => {
      server = await engine.start();
    }, 60_000);
    afterAll(async () => {
      await t?.close().catch(() => undefined);
      await server?.stop();
    });

    it("the request fails; once the server is back, the retry queues the claimed job and it runs", async () => {
      t = await startTestSluice({ ...(await engine.env(server)), QUEUE_CONCURRENCY: "2" });
      t.sluice.task("echo", async (input: unknown) => input);
      await t.sluice.startWorkers();
      const ws = `cf-restart-${run}`;
      await t.sluice.intake.ensureWorkspace(ws, "Restart", { rateLimitPerMinute: 10_000 });
      const secret = (await t.sluice.intake.createApiKey({ workspaceId: ws, scopes: ["jobs:write", "jobs:read"] })).secret;
      const principal = await t.sluice.intake.authenticate(secret);
      const stopsServer = createJobsService({
        index: createJobIndex(t.sluice.store),
        queues: t.sluice.queues,
        intake: t.sluice.intake,
        tasks: t.sluice.tasks,
        defaultQueue: "ai-jobs",
        admit: () => server.halt(engine.stop),
      });
      const request = { type: "echo", input: { n: 1 }, client_request_id: "restart-1" };
      await expect(stopsServer.submit(principal, request)).rejects.toThrow();
      await server.resume();

      const claim = await until(
        () => t.sluice.intake.inspectClaim(ws, "restart-1").catch(() => null),
        (c) => c !== null,
        30_000,
        "the claim back after the restart",
      );
      const retry = await until(
        () => t.app.inject({ method: "POST", url: "/ai/jobs", headers: { authorization: `Bearer ${secret}` }, payload: request }),
        (r) => r.statusCode < 500,
        30_000,
        "the retry accepted once connections are back",
      );
      expect(retry.statusCode).toBe(202);
      expect(retry.json<{ id: string }>().id).toBe(claim!.jobId);
      const done = await until(
        async () =>
          (await t.app.inject({ method: "GET", url: `/ai/jobs/${claim!.jobId}`, headers: { authorization: `Bearer ${secret}` } })).json<{
            status?: string;
            result?: unknown;
          }>(),
        (j) => j.status === "completed",
        60_000,
        "the claimed job completed",
      );
      expect(done.result).toEqual({ n: 1 });
      expect(await t.sluice.intake.inspectClaim(ws, "restart-1")).toMatchObject({ jobId: claim!.jobId, confirmed: true });
    }, 180_000);
  },
);
