import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueWorkerView, WorkerProcessView } from "../../src/pipeline/queues/worker-registry.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { runCliAsync, startCli } from "../harness/cli.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { stopTracked } from "../harness/processes.ts";
import { freePort } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/**
 * Seed 003 §3.1 `curl /api/admin/workers/churn | jq '.workers'` and "scale churn workers", seed 004
 * "increase concurrency from 3 to 10": two real worker processes (`sluice start --role worker
 * --queues …`) on PostgreSQL + Redis, an API process in the test, and a provider that takes 1.5 s a
 * call, so running jobs can be counted.
 */
describe("worker processes serving chosen queues, with runtime concurrency", () => {
  let fake: FakeProviderServer;
  let api: TestSluice;
  let env: Record<string, string>;
  let cliEnv: Record<string, string>;
  let operator: string;
  let writer: string;
  const children: ChildProcess[] = [];
  const inject = async <T>(method: "GET" | "POST", url: string, payload?: object) => {
    const res = await api.app.inject({ method, url, headers: { authorization: `Bearer ${operator}` }, ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.json<T>() };
  };
  const startWorker = async (args: string[]) => {
    const { child } = await startCli(["start", "--role", "worker", ...args], env, await freePort());
    children.push(child);
    return child;
  };
  const processes = async () => (await inject<{ workers: WorkerProcessView[] }>("GET", "/api/admin/workers")).body.workers;
  const churnWorkers = async () => (await inject<{ workers: QueueWorkerView[] }>("GET", "/api/admin/workers/churn")).body.workers;

  beforeAll(async () => {
    fake = await startFakeProviderServer();
    fake.setLatency(1_500);
    env = {
      DATABASE_URL: await freshPostgresDatabase("workers"),
      REDIS_URL: redisUrl(38),
      VECTOR_SEARCH_ENABLED: "false",
      AI_PROVIDER: "openai",
      OPENAI_BASE_URL: fake.openaiBaseUrl,
      OPENAI_API_KEY: "sk-test",
      CACHE_ENABLED: "false",
      QUEUES: "churn,sentiment",
      FLAGS_CACHE_MS: "200",
      LOG_LEVEL: "warn",
    };
    api = await startTestSluice(env);
    await api.sluice.intake.ensureWorkspace("ops", "Ops");
    operator = (await api.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["operator"] })).secret;
    writer = (await api.sluice.intake.createApiKey({ workspaceId: "ops", scopes: ["jobs:write", "jobs:read"] })).secret;
    cliEnv = { SLUICE_URL: await api.app.listen({ port: 0, host: "127.0.0.1" }), SLUICE_API_KEY: operator };
  }, 90_000);
  afterAll(async () => {
    await Promise.all(children.map((c) => stopTracked(c, "SIGKILL")));
    await api?.close();
    await fake?.close();
  });

  it("a churn-only worker registers itself, runs churn at its configured concurrency and never takes a sentiment job", async () => {
    const a = await startWorker(["--queues", "churn", "--concurrency", "churn=1"]);
    const submit = (queue: string, i: number) =>
      api.app.inject({
        method: "POST",
        url: "/ai/jobs",
        headers: { authorization: `Bearer ${writer}` },
        payload: { type: "llm.complete", queue, input: { prompt: `job ${i}` }, client_request_id: `${queue}-${i}` },
      });
    expect((await submit("sentiment", 0)).statusCode).toBe(202);
    for (let i = 0; i < 8; i++) expect((await submit("churn", i)).statusCode).toBe(202);

    const [self] = await until(processes, (p) => p.length === 1, 20_000, "worker A to register");
    expect(self).toMatchObject({ pid: a.pid, role: "worker", queues: [{ queue: "churn", concurrency: 1, configured_concurrency: 1 }] });
    expect(Date.parse(self?.last_seen ?? "")).toBeGreaterThanOrEqual(Date.parse(self?.started_at ?? ""));
    await until(churnWorkers, (w) => w[0]?.active === 1, 20_000, "one churn job running");
    const sentiment = await api.sluice.queues.counts("sentiment");
    expect(sentiment).toMatchObject({ waiting: 1, active: 0, completed: 0 });
  }, 60_000);

  it("POST /api/admin/workers/concurrency raises the running worker's concurrency without a restart, audited", async () => {
    const bad = await inject<{ error: { code: string } }>("POST", "/api/admin/workers/concurrency", { queue: "churn", concurrency: 0 });
    expect(bad.status).toBe(400);
    const unknown = await inject<{ error: { code: string } }>("POST", "/api/admin/workers/concurrency", { queue: "nope", concurrency: 2 });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "QUEUE_NOT_FOUND"]);

    const set = await inject("POST", "/api/admin/workers/concurrency", { queue: "churn", concurrency: 3, reason: "backlog" });
    expect(set.status).toBe(200);
    const [row] = await until(
      churnWorkers,
      (w) => w[0]?.concurrency === 3 && w[0]?.active === 3,
      20_000,
      "three churn jobs running at once",
    );
    expect(row?.configured_concurrency).toBe(1);
    const { rows } = await api.sluice.store.query<{ action: string; target: string; reason: string }>(
      "SELECT action, target, reason FROM action_audit WHERE target = $1",
      ["queue.churn.concurrency"],
    );
    expect(rows).toContainEqual({ action: "flag.set", target: "queue.churn.concurrency", reason: "backlog" });
    expect((await api.sluice.queues.counts("sentiment")).waiting).toBe(1); // still untouched by the churn worker
  }, 60_000);

  it("a second process serving sentiment takes the sentiment job; both list themselves (API and sluice workers)", async () => {
    const b = await startWorker(["--queues", "sentiment"]);
    await until(
      () => api.sluice.queues.counts("sentiment"),
      (c) => c.completed === 1,
      30_000,
      "the sentiment job to complete",
    );
    const all = await until(processes, (p) => p.length === 2, 20_000, "two worker processes");
    expect(all.find((p) => p.pid === b.pid)?.queues.map((q) => q.queue)).toEqual(["sentiment"]);
    expect((await churnWorkers()).map((w) => w.pid)).not.toContain(b.pid);

    const table = await runCliAsync(["workers"], cliEnv);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^HOST\s+PID\s+ROLE\s+QUEUES\s+ACTIVE\s+STARTED_AT\s+LAST_SEEN$/m);
    expect(table.stdout).toMatch(new RegExp(`\\s${b.pid}\\s+worker\\s+sentiment=\\d/10\\s`));
    const churn = await runCliAsync(["workers", "churn", "--json"], cliEnv);
    expect((JSON.parse(churn.stdout) as QueueWorkerView[]).map((w) => w.concurrency)).toEqual([3]);
    const back = await runCliAsync(["workers", "concurrency", "churn", "default", "--reason", "done"], cliEnv);
    expect(back.status, back.stderr).toBe(0);
    await until(churnWorkers, (w) => w[0]?.concurrency === 1, 20_000, "churn back to its configured concurrency");
  }, 90_000);
});
