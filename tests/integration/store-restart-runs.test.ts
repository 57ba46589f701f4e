import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { SluiceError } from "../../src/core/errors.ts";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { redisUrl } from "../harness/databases.ts";
import { sampleValue } from "../harness/metrics.ts";
import { createDatabase, startRestartablePostgres, uniqueName, type RestartableServer } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep, until } from "../harness/wait.ts";

/**
 * Issue 12: PostgreSQL restarts for 10 s while pipeline runs are in flight, with queues on
 * PostgreSQL itself and with queues on Redis (logical database 52). A run is accepted work: the
 * outage may pause it, never fail it, lose it or run a completed step's body a second time.
 */

const RUNS = 50;
const DOWN_MS = 10_000;

// With queues on PostgreSQL nothing is fetched while it is down, so no invocation meets the outage at its start.
const setups = [
  { name: "queues and store on PostgreSQL", env: (): Record<string, string> => ({ QUEUE_BACKEND: "postgres" }), deferrals: false },
  { name: "queues on Redis, store on PostgreSQL", env: (): Record<string, string> => ({ REDIS_URL: redisUrl(52) }), deferrals: true },
];

for (const setup of setups) {
  describe(`a PostgreSQL restart with runs in flight (${setup.name})`, () => {
    let postgres: RestartableServer;
    let fake: FakeProviderServer;
    let t: TestSluice;
    let key: string;
    /** `runId/step` → how many times the step's body ran. */
    const executions = new Map<string, number>();
    const count = (runId: string, step: string) => executions.set(`${runId}/${step}`, (executions.get(`${runId}/${step}`) ?? 0) + 1);
    /** Prompt → how many times the provider answered it (the task step's body). */
    const asked = new Map<string, number>();

    beforeAll(async () => {
      [postgres, fake] = await Promise.all([startRestartablePostgres(), startFakeProviderServer()]);
      fake.setLatency(150);
      fake.setResponder((messages) => {
        const prompt = String(messages.at(-1)?.content ?? "");
        asked.set(prompt, (asked.get(prompt) ?? 0) + 1);
        return `answer to ${prompt}`;
      });
      t = await startTestSluice({
        DATABASE_URL: await createDatabase(postgres.url, uniqueName("runsrestart")),
        VECTOR_SEARCH_ENABLED: "false",
        AI_PROVIDER: "openai",
        OPENAI_BASE_URL: fake.openaiBaseUrl,
        OPENAI_API_KEY: "sk-test",
        CACHE_ENABLED: "false",
        WORKSPACE_DAILY_TOKEN_BUDGET: "100000000",
        ...setup.env(),
      });
      t.sluice.pipeline(
        definePipeline({ name: "restartable", input: z.object({ n: z.number() }) }, async (input, step) => {
          const first = await step.run("prepare", async () => {
            count(step.runId, "prepare");
            await sleep(100 + (input.n % 5) * 60);
            return input.n * 2;
          });
          const answer = await step.task("ask", "llm.complete", { prompt: `run ${input.n}` });
          await step.sleep("pause", "3s");
          const second = await step.run("record", async () => {
            // The step's own use of the store, as a user's code does; counted once it got through.
            const { rows } = await t.sluice.store.query<{ n: number }>("SELECT $1::int AS n", [first]);
            count(step.runId, "record");
            await sleep(200);
            return rows[0]?.n ?? null;
          });
          const last = await step.run("finish", async () => {
            count(step.runId, "finish");
            await sleep(150);
            return "done";
          });
          return { first, second, last, answered: answer !== null };
        }),
      );
      await t.sluice.startWorkers({ concurrency: 20 });
      await t.sluice.intake.ensureWorkspace("ws", "WS", { rateLimitPerMinute: 1_000_000 });
      key = (await t.sluice.intake.createApiKey({ workspaceId: "ws", scopes: ["jobs:write", "jobs:read"] })).secret;
    }, 120_000);

    afterAll(async () => {
      await t?.close();
      await Promise.all([postgres?.stop(), fake?.close()]);
    });

    it("completes every run, fails none, runs no step body twice", async () => {
      const ids: string[] = [];
      for (let n = 0; n < RUNS; n++) {
        ids.push((await t.sluice.runs.start({ pipeline: "restartable", workspace: "ws", input: { n } })).id);
        if (n % 10 === 9) await sleep(150);
      }
      await sleep(500);
      const before = await Promise.all(ids.map((id) => t.sluice.runs.get(id)));
      const inFlight = before.filter(
        (r) => ["running", "sleeping"].includes(r.status) || (r.status === "queued" && (r.steps?.length ?? 0) > 0),
      );
      expect(inFlight.length, "runs in flight when the database goes").toBeGreaterThanOrEqual(10);
      expect(before.filter((r) => r.status === "completed").length, "runs still to finish").toBeLessThan(RUNS / 2);
      // Runs are at every step when the database goes: mid-body, mid-sleep, waiting for a worker.
      await postgres.halt("SIGINT"); // fast shutdown: sessions are ended, as a service restart does
      const resumeAt = Date.now() + DOWN_MS;
      // What a client and an operator see meanwhile (docs/runbook.md §11), read while it is still down.
      const duringOutage = sleep(1_000).then(async () => {
        const db = await t.app.inject({ method: "GET", url: "/health/db" });
        const refused = await t.app.inject({
          method: "POST",
          url: "/api/pipelines/restartable/runs",
          headers: { authorization: `Bearer ${key}` },
          payload: { input: { n: -1 }, client_request_id: "during-outage" },
        });
        return {
          db: db.statusCode,
          refused: refused.statusCode,
          code: refused.json<{ error?: { code: string } }>().error?.code,
          at: Date.now(),
        };
      });
      await sleep(DOWN_MS);
      const seen = await duringOutage;
      await postgres.resume();
      const resumed = Date.now();
      expect(seen.at, "read before the database came back").toBeLessThan(resumeAt + 500);
      expect(seen).toMatchObject({ db: 503, refused: 503, code: "DEPENDENCY_UNAVAILABLE" });

      const deadline = Date.now() + 90_000;
      let statuses: Record<string, number> = {};
      let runs: Awaited<ReturnType<typeof t.sluice.runs.get>>[] = [];
      for (;;) {
        runs = await Promise.all(ids.map((id) => t.sluice.runs.get(id)));
        statuses = runs.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
        const failed = runs.filter((r) => r.status === "failed").map((r) => `${r.id}: ${JSON.stringify(r.error)}`);
        expect(failed, "failed runs").toEqual([]);
        if (statuses.completed === RUNS || Date.now() > deadline) break;
        await sleep(500);
      }
      expect(statuses, "no run stuck").toEqual({ completed: RUNS });
      // They went on at once, not after the stalled-job check gave a dropped invocation back (30-60 s).
      expect(Date.now() - resumed, "ms from the database's return to the last run's end").toBeLessThan(25_000);
      for (const run of runs) expect(run.output).toMatchObject({ last: "done", answered: true });

      const twice = [...executions].filter(([, n]) => n !== 1).map(([k, n]) => `${k}: ${n}`);
      expect(twice, "step bodies that ran more than once").toEqual([]);
      expect(executions.size).toBe(RUNS * 3);
      const askedTwice = [...asked].filter(([, n]) => n !== 1).map(([k, n]) => `${k}: ${n}`);
      expect(askedTwice, "task steps whose provider call ran more than once").toEqual([]);
      expect(asked.size).toBe(RUNS);
      if (setup.deferrals) {
        // Invocations that started during the outage were put back for it, not failed.
        const metrics = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
        expect(sampleValue(metrics, "ai_jobs_deferred_total", 'queue="sluice-runs",code="DEPENDENCY_UNAVAILABLE"')).toBeGreaterThan(0);
      }
    }, 180_000);
  });
}

describe("a step body that meets DEPENDENCY_UNAVAILABLE (embedded PGlite)", () => {
  let t: TestSluice;
  let tries = 0;

  beforeAll(async () => {
    t = await startTestSluice();
    t.sluice.pipeline(
      definePipeline({ name: "store-blip", input: z.object({}) }, async (_input, step) =>
        step.run(
          "read",
          () => {
            tries++;
            // What the store throws while it is down (src/adapters/store/translate-error.ts).
            if (tries === 1) throw new SluiceError("DEPENDENCY_UNAVAILABLE", "Database unavailable: connect ECONNREFUSED");
            return "read";
          },
          { retry: { maxAttempts: 1 } },
        ),
      ),
    );
    await t.sluice.startWorkers();
  });
  afterAll(async () => t?.close());

  it("is tried again without spending an attempt: one attempt allowed, and the run completes", async () => {
    const { id } = await t.sluice.runs.start({ pipeline: "store-blip", workspace: "ws", input: {} });
    const run = await until(
      () => t.sluice.runs.get(id),
      (r) => ["completed", "failed"].includes(r.status),
      20_000,
      "the run settled",
    );
    expect(run).toMatchObject({ status: "completed", output: "read" });
    expect(tries).toBe(2);
    expect(run.steps?.map((s) => [s.name, s.status, s.attempts])).toEqual([["read", "completed", 1]]);
  });
});
