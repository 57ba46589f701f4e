import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { startCli, waitForExit } from "../harness/cli.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { freePort } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep, until } from "../harness/wait.ts";
import { describeCasesAtOnce } from "../harness/cases-at-once.ts";

/**
 * Issue 8 item 8: a worker stopped with SIGTERM past SHUTDOWN_TIMEOUT_MS hands its running jobs
 * back to the queue before exiting, so another worker runs them at once rather than after lock
 * expiry, and each job's `attempts` shows the interrupted run. Locks and stalled checks are set to
 * 60 s, so only a job handed back can finish within the 20 s this test allows.
 */
interface Engine {
  name: string;
  env: () => Promise<Record<string, string>>;
}

const engines: Engine[] = [
  {
    name: "Redis queues",
    env: async () => ({ REDIS_URL: redisUrl(12), DATABASE_URL: await freshPostgresDatabase("abandon"), VECTOR_SEARCH_ENABLED: "false" }),
  },
  {
    name: "PostgreSQL queues",
    env: async () => ({ DATABASE_URL: await freshPostgresDatabase("abandon"), VECTOR_SEARCH_ENABLED: "false" }),
  },
];

const LOCK_MS = 60_000;
const JOBS = 3;

type JobView = { id: string; status: string; attempts: number; result: { text?: string } | null };

describeCasesAtOnce(
  "SIGTERM past SHUTDOWN_TIMEOUT_MS",
  engines,
  (e) => e.name,
  (engine) => {
    let fake: FakeProviderServer;
    let api: TestSluice;
    let env: Record<string, string>;
    let key: string;
    const children: ChildProcess[] = [];
    const auth = () => ({ authorization: `Bearer ${key}` });
    const view = async (id: string) => (await api.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: auth() })).json<JobView>();
    const worker = async () => {
      const started = await startCli(["start", "--role", "worker"], env, await freePort());
      children.push(started.child);
      return started;
    };

    beforeAll(async () => {
      fake = await startFakeProviderServer();
      env = {
        ...(await engine.env()),
        AI_PROVIDER: "openai",
        OPENAI_BASE_URL: fake.openaiBaseUrl,
        OPENAI_API_KEY: "sk-test",
        AI_FALLBACK_PROVIDER: "none",
        AI_REQUEST_TIMEOUT_MS: "120000",
        OPENAI_EMBEDDING_BACKFILL_ENABLED: "false",
        CACHE_ENABLED: "false",
        QUEUE_CONCURRENCY: "4",
        QUEUE_LOCK_DURATION_MS: String(LOCK_MS),
        QUEUE_STALLED_INTERVAL_MS: String(LOCK_MS),
        SHUTDOWN_TIMEOUT_MS: "1000",
      };
      // This process is the API role: it takes the jobs and reads them back; the workers are `sluice start` processes.
      api = await startTestSluice(env);
      await api.sluice.intake.ensureWorkspace("ws-stop", "Stop", { rateLimitPerMinute: 10_000 });
      key = (await api.sluice.intake.createApiKey({ workspaceId: "ws-stop", scopes: ["jobs:write", "jobs:read"] })).secret;
    }, 120_000);
    afterAll(async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await api?.close();
      await fake?.close();
    });

    it("hands the running jobs back: a second worker runs them at once, and each job's attempts shows the interrupted run", async () => {
      fake.setLatency(600_000); // the first worker's provider calls never answer
      const first = await worker();
      const ids: string[] = [];
      for (let i = 0; i < JOBS; i += 1) {
        const res = await api.app.inject({
          method: "POST",
          url: "/ai/jobs",
          headers: auth(),
          payload: { type: "llm.complete", input: { prompt: `job ${i}` }, client_request_id: `stop-${i}` },
        });
        expect(res.statusCode).toBe(202);
        ids.push(res.json<{ id: string }>().id);
      }
      await until(
        () => Promise.all(ids.map(view)),
        (jobs) => jobs.every((j) => j.status === "active"),
        30_000,
        "all jobs active on the first worker",
      );
      await until(
        async () => fake.stats.requests,
        (n) => n >= JOBS,
        30_000,
        "provider calls from the first worker",
      );
      // Idle while the first worker holds every job; it takes whatever is handed back.
      await worker();
      fake.setLatency(0);

      first.child.kill("SIGTERM");
      expect(await waitForExit(first.child)).toBe(1);
      const exitedAt = Date.now();

      const done = await until(
        () => Promise.all(ids.map(view)),
        (jobs) => jobs.every((j) => j.status === "completed"),
        20_000,
        "jobs completed by the second worker",
      );
      expect(Date.now() - exitedAt).toBeLessThan(LOCK_MS / 2);
      for (const job of done) {
        expect(job.result?.text).toContain("job");
        expect(job.attempts).toBe(2); // the abandoned run and the one that completed
      }
      // No further runs: the abandoned handlers' late ends are refused, nothing stalls later.
      await sleep(500);
      expect((await Promise.all(ids.map(view))).map((j) => [j.status, j.attempts])).toEqual(ids.map(() => ["completed", 2]));
      expect(first.output()).toContain("running jobs returned to the queue");
    }, 240_000);
  },
);

describeCasesAtOnce(
  "a run cut short by a dying worker counts in attempts",
  engines,
  (e) => e.name,
  (engine) => {
    it("a stalled job that runs again shows both runs in the job view", async () => {
      // Its own Redis database: BullMQ rate-limits stall checks with a key that lives one stalled
      // interval, and the 60 s workers above leave one behind that would hold off this 1 s checker.
      const env = await engine.env();
      if (env.REDIS_URL) env.REDIS_URL = redisUrl(2);
      const t = await startTestSluice({
        ...env,
        QUEUE_LOCK_DURATION_MS: "1000",
        QUEUE_STALLED_INTERVAL_MS: "1000",
        OPENAI_EMBEDDING_BACKFILL_ENABLED: "false",
      });
      try {
        let runs = 0;
        t.sluice.task("once-hangs", async () => {
          runs += 1;
          if (runs === 1) await new Promise(() => undefined); // the first run never ends: its worker "dies"
          return { run: runs };
        });
        await t.sluice.intake.ensureWorkspace("ws-stall", "Stall");
        const key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-stall", scopes: ["jobs:write", "jobs:read"] })).secret;
        const view = async (id: string) =>
          (await t.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: { authorization: `Bearer ${key}` } })).json<JobView>();
        const dying = await t.sluice.startWorkers();
        const res = await t.app.inject({
          method: "POST",
          url: "/ai/jobs",
          headers: { authorization: `Bearer ${key}` },
          payload: { type: "once-hangs", input: {}, client_request_id: "stall-1" },
        });
        const { id } = res.json<{ id: string }>();
        await until(
          () => view(id),
          (j) => j.status === "active",
          30_000,
          "job active",
        );
        // A crash as BullMQ sees it: the worker stops renewing its locks and never finishes the job.
        await Promise.all(dying.map((w) => w.close(true)));
        await t.sluice.startWorkers();
        const done = await until(
          () => view(id),
          (j) => j.status === "completed",
          30_000,
          "job re-run after its lock expired",
        );
        expect(done.result).toEqual({ run: 2 });
        expect(done.attempts).toBe(2);
      } finally {
        await t.close();
      }
    }, 120_000);
  },
);
