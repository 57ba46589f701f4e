import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep, until } from "../harness/wait.ts";

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
  { name: "Redis (claims and queues on Redis)", env: async () => ({ REDIS_URL: redisUrl(11), DATABASE_URL: await freshPostgresDatabase("claimfault"), VECTOR_SEARCH_ENABLED: "false" }) },
  { name: "PostgreSQL (claims in kv_entries, queues in schema bullmq)", env: async () => ({ DATABASE_URL: await freshPostgresDatabase("claimfault"), VECTOR_SEARCH_ENABLED: "false" }) },
  { name: "embedded PGlite", env: async () => ({}) },
];

// The Redis database is shared with later runs: workspaces are unique to this one.
const run = `${process.pid}-${Date.now().toString(36)}`;

describe.each(engines)("idempotency claims and faults between claim and queue on $name", (engine) => {
  let t: TestSluice;
  let writer: string;
  let admin: string;
  const ws = `cf-${run}`;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const post = (crid: string, type = "echo") => t.app.inject({ method: "POST", url: "/ai/jobs", headers: auth(writer), payload: { type, input: { crid }, client_request_id: crid } });
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
    admin = (await t.sluice.intake.createApiKey({ workspaceId: ws, scopes: ["admin"] })).secret;
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
    await until(async () => (await getJob(jobId)).json<{ status: string }>(), (j) => j.status === "completed");
    expect(await jobsFor("died-1")).toHaveLength(1);
    expect(await t.sluice.intake.inspectClaim(ws, "died-1")).toMatchObject({ jobId, confirmed: true });
  });

  it("a job queued whose claim was never confirmed: a repeat finds it, confirms the claim and queues nothing more", async () => {
    const jobId = randomUUID();
    await t.sluice.intake.claim(ws, "unconfirmed-1", jobId);
    const envelope = { workspace: ws, type: "echo", input: { crid: "unconfirmed-1" }, client_request_id: "unconfirmed-1", submitted_by: "test" };
    await t.sluice.queues.add("ai-jobs", "echo", envelope, { jobId });
    const repeat = await post("unconfirmed-1");
    expect(repeat.json<{ id: string }>().id).toBe(jobId);
    expect(await t.sluice.intake.inspectClaim(ws, "unconfirmed-1")).toMatchObject({ jobId, confirmed: true });
    await until(async () => (await getJob(jobId)).json<{ status: string }>(), (j) => j.status === "completed");
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
    const enabled = await t.app.inject({ method: "PUT", url: "/api/flags/task.echo.held.enabled", headers: auth(admin), payload: { value: true, reason: "test" } });
    expect(enabled.statusCode).toBe(200);
    await sleep(300); // FLAGS_CACHE_MS
    const accepted = await post("held-1", "echo.held");
    expect(accepted.statusCode).toBe(202);
    expect(accepted.json<{ id: string }>().id).toBe(pending!.jobId);
    await until(async () => (await getJob(pending!.jobId)).json<{ status: string }>(), (j) => j.status === "completed");
    expect(await t.sluice.intake.inspectClaim(ws, "held-1")).toMatchObject({ jobId: pending!.jobId, confirmed: true });
  });
});
