import { afterAll, beforeAll, expect, it } from "vitest";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { runCliAsync } from "../harness/cli.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep } from "../harness/wait.ts";
import { describeCasesAtOnce } from "../harness/cases-at-once.ts";

/** Long-poll of one job (`GET /ai/jobs/{id}?wait=N`, `sluice job <id> --wait N`) on all three queue backends. */
const engines = [
  { name: "embedded PGlite", env: async () => ({}) },
  {
    name: "BullMQ on PostgreSQL",
    env: async () => ({ DATABASE_URL: await freshPostgresDatabase("jobwait"), QUEUE_BACKEND: "postgres", VECTOR_SEARCH_ENABLED: "false" }),
  },
  {
    name: "BullMQ on Redis",
    env: async () => ({ REDIS_URL: redisUrl(26), DATABASE_URL: await freshPostgresDatabase("jobwait"), VECTOR_SEARCH_ENABLED: "false" }),
  },
];

interface JobAnswer {
  id: string;
  status: string;
  result: unknown;
  error: string | null;
}

describeCasesAtOnce(
  "GET /ai/jobs/{id}?wait",
  engines,
  (e) => e.name,
  (engine) => {
    let t: TestSluice;
    let key: string;
    let url: string;
    // Jobs of the "held" task finish when the test releases them, so the test knows what a wait should see.
    const releases = new Map<string, () => void>();
    const auth = () => ({ authorization: `Bearer ${key}` });
    const submit = async (type: string, name: string): Promise<string> => {
      const res = await t.app.inject({
        method: "POST",
        url: "/ai/jobs",
        headers: auth(),
        payload: { type, input: { name }, client_request_id: `${name}-${Date.now()}` },
      });
      expect(res.statusCode).toBe(202);
      return res.json<{ id: string }>().id;
    };
    const getJob = (id: string, query = "") => t.app.inject({ method: "GET", url: `/ai/jobs/${id}${query}`, headers: auth() });

    beforeAll(async () => {
      t = await startTestSluice({ ...(await engine.env()), QUEUE_CONCURRENCY: "4", AI_MAX_ATTEMPTS: "1" });
      t.sluice.task(
        "held",
        (input: { name: string }) => new Promise((resolve) => releases.set(input.name, () => resolve({ released: input.name }))),
      );
      t.sluice.task("doomed", async () => {
        throw new Error("this task always fails");
      });
      await t.sluice.startWorkers();
      await t.sluice.intake.ensureWorkspace("ws-wait", "Waiters", { rateLimitPerMinute: 100_000 });
      key = (await t.sluice.intake.createApiKey({ workspaceId: "ws-wait", scopes: ["jobs:write", "jobs:read"] })).secret;
      url = await t.app.listen({ port: 0, host: "127.0.0.1" });
    });
    afterAll(async () => {
      for (const release of releases.values()) release();
      await t?.close();
    });

    it("answers as soon as the job completes, long before the wait is over", async () => {
      const id = await submit("held", "soon");
      const started = Date.now();
      const pending = getJob(id, "?wait=30");
      await sleep(700);
      releases.get("soon")?.();
      const res = await pending;
      const elapsed = Date.now() - started;
      expect(res.statusCode).toBe(200);
      expect(res.json<JobAnswer>()).toMatchObject({ id, status: "completed", result: { released: "soon" } });
      expect(elapsed).toBeGreaterThanOrEqual(600);
      expect(elapsed).toBeLessThan(10_000);
    });

    it("answers with a failed job's error", async () => {
      const id = await submit("doomed", "doomed");
      const res = await getJob(id, "?wait=30");
      expect(res.json<JobAnswer>()).toMatchObject({
        id,
        status: "failed",
        error: "TASK_FAILED: The job's task failed; an operator can see why in the queue admin API",
      });
    });

    it("answers with the current state when the wait runs out", async () => {
      const id = await submit("held", "late");
      const started = Date.now();
      const res = await getJob(id, "?wait=1");
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(["waiting", "active"]).toContain(res.json<JobAnswer>().status);
      releases.get("late")?.();
    });

    it("refuses a wait above 60 s or not a number with 400 VALIDATION_FAILED, and another workspace's job with 404", async () => {
      const id = await submit("held", "bounds");
      for (const query of ["?wait=61", "?wait=abc", "?wait=-1", "?wait=1.5"]) {
        const res = await getJob(id, query);
        expect(res.statusCode, query).toBe(400);
        expect(res.json<{ error: { code: string } }>().error.code).toBe("VALIDATION_FAILED");
      }
      // No WEBHOOK_SIGNING_SECRET on this server: a callback could not be signed.
      const unsigned = await t.app.inject({
        method: "POST",
        url: "/ai/jobs",
        headers: auth(),
        payload: { type: "held", input: { name: "x" }, client_request_id: "cb-1", callback_url: "https://hooks.example.com/x" },
      });
      expect(unsigned.statusCode).toBe(400);
      expect(unsigned.json<{ error: { code: string } }>().error.code).toBe("WEBHOOK_SECRET_MISSING");
      await t.sluice.intake.ensureWorkspace("ws-other-wait", "Other");
      const other = (await t.sluice.intake.createApiKey({ workspaceId: "ws-other-wait", scopes: ["jobs:read"] })).secret;
      const peek = await t.app.inject({ method: "GET", url: `/ai/jobs/${id}?wait=1`, headers: { authorization: `Bearer ${other}` } });
      expect(peek.statusCode).toBe(404);
      expect(peek.json<{ error: { code: string } }>().error.code).toBe("JOB_NOT_FOUND");
      releases.get("bounds")?.();
    });

    // The CLI is a client of the route above, the same on every backend: once is enough (four processes).
    if (engine === engines[0])
      it("sluice job <id> --wait blocks until the job settles and exits 0 (completed), 1 (failed), 2 (not yet)", async () => {
        const env = { SLUICE_URL: url, SLUICE_API_KEY: key };
        const id = await submit("held", "cli");
        const cli = runCliAsync(["job", id, "--wait", "30"], env);
        await sleep(1_500);
        releases.get("cli")?.();
        const done = await cli;
        expect(done.status, done.stderr).toBe(0);
        expect(JSON.parse(done.stdout)).toMatchObject({ id, status: "completed", result: { released: "cli" } });

        const failed = await runCliAsync(["job", await submit("doomed", "cli-doomed"), "--wait", "30"], env);
        expect(failed.status, failed.stderr).toBe(1);
        expect(JSON.parse(failed.stdout)).toMatchObject({ status: "failed" });

        const stillHeld = await submit("held", "cli-held");
        const notYet = await runCliAsync(["job", stillHeld, "--wait", "1"], env);
        expect(notYet.status, notYet.stderr).toBe(2);
        releases.get("cli-held")?.();

        const tooLong = await runCliAsync(["job", stillHeld, "--wait", "61"], env);
        expect(tooLong.status).toBe(1);
        expect(tooLong.stderr).toContain("VALIDATION_FAILED");
      });
  },
);
