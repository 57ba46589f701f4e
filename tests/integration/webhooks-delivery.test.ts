import { rmSync } from "node:fs";
import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { verifySignature, type WebhookBody } from "../../src/pipeline/webhooks/index.ts";
import { runCliAsync } from "../harness/cli.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { newEmbeddedDataDir } from "../harness/pglite-template.ts";
import { runbookLine, runRunbookLine } from "../harness/runbook.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";
import { startReceiver, type Delivery } from "../harness/webhook-receiver.ts";
import { describeCasesAtOnce } from "../harness/cases-at-once.ts";

/**
 * Completion webhooks end to end on all three queue backends: a real HTTP receiver on loopback
 * that fails the first deliveries, signatures checked with Sluice's own verifier, the delivery
 * log, redelivery (API and CLI), and a delivery that outlives a worker restart.
 */
const SECRET = "test-signing-secret-0123456789";
const REDIS_DB = 27;

const engines = [
  { name: "embedded PGlite", env: async () => ({ SLUICE_DATA_DIR: newEmbeddedDataDir("sluice-webhooks-") }) },
  {
    name: "BullMQ on PostgreSQL",
    env: async () => ({ DATABASE_URL: await freshPostgresDatabase("webhooks"), QUEUE_BACKEND: "postgres", VECTOR_SEARCH_ENABLED: "false" }),
  },
  {
    name: "BullMQ on Redis",
    env: async () => ({
      REDIS_URL: redisUrl(REDIS_DB),
      DATABASE_URL: await freshPostgresDatabase("webhooks"),
      VECTOR_SEARCH_ENABLED: "false",
    }),
  },
];

describeCasesAtOnce(
  "completion webhooks",
  engines,
  (e) => e.name,
  (engine) => {
    let env: Record<string, string>;
    let t: TestSluice;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let writer: string;
    let admin: string;
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });

    async function start(): Promise<TestSluice> {
      const sluice = await startTestSluice(env);
      sluice.sluice.task("echo", async (input: { text: string }) => ({ echoed: input.text }));
      sluice.sluice.task("doomed", async () => {
        throw new Error("this task always fails");
      });
      sluice.sluice.pipeline(
        definePipeline({ name: "hooked", input: z.object({ name: z.string() }) }, async (input, step) => ({
          greeting: await step.run("compose", () => `hello ${input.name}`),
        })),
      );
      await sluice.sluice.startWorkers();
      return sluice;
    }
    const submit = async (type: string, text: string, callback?: string) => {
      const payload = {
        type,
        input: { text },
        client_request_id: `${text}-${Date.now()}`,
        ...(callback ? { callback_url: callback } : {}),
      };
      return t.app.inject({ method: "POST", url: "/ai/jobs", headers: auth(writer), payload });
    };
    const deliveries = async (query = ""): Promise<Delivery[]> =>
      (await t.app.inject({ method: "GET", url: `/api/webhooks/deliveries${query}`, headers: auth(admin) })).json<Delivery[]>();

    beforeAll(async () => {
      if (engine.name.includes("Redis")) {
        const redis = new Redis(redisUrl(REDIS_DB));
        await redis.flushdb();
        redis.disconnect();
      }
      receiver = await startReceiver();
      env = {
        ...(await engine.env()),
        WEBHOOK_SIGNING_SECRET: SECRET,
        // The receiver listens on loopback, which production refuses (SSRF); tests must allow it.
        WEBHOOK_ALLOW_PRIVATE: "true",
        WEBHOOK_BACKOFF_MS: "200",
        WEBHOOK_MAX_ATTEMPTS: "4",
        QUEUE_CONCURRENCY: "4",
      };
      t = await start();
      await t.sluice.intake.ensureWorkspace("ws-hooks", "Hooks", { rateLimitPerMinute: 100_000 });
      writer = (await t.sluice.intake.createApiKey({ workspaceId: "ws-hooks", scopes: ["jobs:write", "jobs:read"] })).secret;
      admin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-hooks", scopes: ["admin", "jobs:read"] })).secret;
    });
    afterAll(async () => {
      await t?.close();
      await receiver?.close();
      if (env?.SLUICE_DATA_DIR) rmSync(env.SLUICE_DATA_DIR, { recursive: true, force: true });
    });

    it("retries a failing receiver with backoff until it answers 2xx, signed every time, and logs the attempts", async () => {
      receiver.failFirst.set("/retry", 2);
      const res = await submit("echo", "hello", `${receiver.url}/retry`);
      expect(res.statusCode).toBe(202);
      const jobId = res.json<{ id: string }>().id;
      const [delivery] = await until(
        () => deliveries(`?job=${jobId}`),
        (rows) => rows[0]?.status === "delivered",
        30_000,
        "delivered",
      );
      expect(delivery).toMatchObject({
        event: "job.completed",
        subject: `job:${jobId}`,
        target: `${receiver.url}/retry`,
        attempts: 3,
        last_status_code: 200,
        last_error: null,
      });

      const requests = receiver.received.get("/retry") ?? [];
      expect(requests.map((r) => r.answered)).toEqual([500, 500, 200]);
      for (const request of requests) {
        expect(verifySignature(SECRET, request.body, request.signature)).toMatchObject({ ok: true });
        expect(verifySignature("another-secret-entirely", request.body, request.signature)).toMatchObject({
          ok: false,
          reason: "mismatch",
        });
        expect(request.deliveryId).toBe(delivery?.id);
      }
      const bodies = requests.map((r) => JSON.parse(r.body) as WebhookBody);
      expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
      expect(bodies[0]).toMatchObject({
        type: "job.completed",
        workspace: "ws-hooks",
        data: { job: { id: jobId, status: "completed", result: { echoed: "hello" } } },
      });
      const metrics = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
      expect(metrics).toMatch(/^webhook_delivery_attempts_total\{event="job.completed",outcome="retry"\} [2-9]/m);
      expect(metrics).toMatch(/^webhook_delivery_attempts_total\{event="job.completed",outcome="delivered"\} [1-9]/m);
      // The job reads as settled once its callback arrived.
      const job = await t.app.inject({ method: "GET", url: `/ai/jobs/${jobId}`, headers: auth(writer) });
      expect(job.json<{ status: string }>().status).toBe("completed");
    });

    it("sends a failed job's callback to its callback_url and the workspace's default URL", async () => {
      const patch = await t.app.inject({
        method: "PATCH",
        url: "/api/workspaces/ws-hooks",
        headers: auth(await operatorKey()),
        payload: { webhook_url: `${receiver.url}/default`, reason: "client asked" },
      });
      expect(patch.statusCode, patch.body).toBe(200);
      expect(patch.json<{ webhook_url: string }>().webhook_url).toBe(`${receiver.url}/default`);
      const jobId = (await submit("doomed", "doomed", `${receiver.url}/own`)).json<{ id: string }>().id;
      const rows = await until(
        () => deliveries(`?job=${jobId}`),
        (r) => r.length === 2 && r.every((d) => d.status === "delivered"),
        60_000,
        "two delivered",
      );
      expect(new Set(rows.map((r) => r.target))).toEqual(new Set([`${receiver.url}/default`, `${receiver.url}/own`]));
      for (const path of ["/default", "/own"]) {
        const [request] = receiver.received.get(path) ?? [];
        expect(verifySignature(SECRET, request?.body ?? "", request?.signature)).toMatchObject({ ok: true });
        expect(JSON.parse(request?.body ?? "{}")).toMatchObject({
          type: "job.failed",
          data: { job: { id: jobId, status: "failed", error: expect.stringMatching(/^TASK_FAILED: /) as unknown } },
        });
      }
      const cleared = await t.app.inject({
        method: "PATCH",
        url: "/api/workspaces/ws-hooks",
        headers: auth(await operatorKey()),
        payload: { webhook_url: null },
      });
      expect(cleared.json<{ webhook_url: string | null }>().webhook_url).toBeNull();
    });

    it("marks a delivery failed after its last attempt; redeliver (API, CLI) sends the same event again", async () => {
      receiver.failFirst.set("/down", 4);
      const jobId = (await submit("echo", "down", `${receiver.url}/down`)).json<{ id: string }>().id;
      const [failed] = await until(
        () => deliveries(`?job=${jobId}`),
        (r) => r[0]?.status === "failed",
        30_000,
        "failed",
      );
      expect(failed).toMatchObject({ attempts: 4, last_status_code: 500, last_error: "HTTP 500" });
      expect((await deliveries("?status=failed")).map((d) => d.id)).toContain(failed?.id);

      const again = await t.app.inject({
        method: "POST",
        url: `/api/webhooks/deliveries/${failed?.id}/redeliver`,
        headers: auth(admin),
        payload: { reason: "client was down" },
      });
      expect(again.statusCode).toBe(202);
      const [delivered] = await until(
        () => deliveries(`?job=${jobId}`),
        (r) => r[0]?.status === "delivered",
        30_000,
        "redelivered",
      );
      expect(delivered).toMatchObject({ attempts: 5, last_status_code: 200 });
      const requests = receiver.received.get("/down") ?? [];
      expect(new Set(requests.map((r) => (JSON.parse(r.body) as WebhookBody).id)).size).toBe(1);

      const url = await t.app.listen({ port: 0, host: "127.0.0.1" });
      const cliEnv = { SLUICE_URL: url, SLUICE_API_KEY: admin };
      const listed = await runCliAsync(["webhooks", "deliveries", "--job", jobId], cliEnv);
      expect(listed.status, listed.stderr).toBe(0);
      expect(listed.stdout).toMatch(
        new RegExp(`^${failed?.id}\\s+job\\.completed\\s+job:${jobId}\\s+\\S+/down\\s+delivered\\s+5\\s+200`, "m"),
      );
      const viaCli = await runCliAsync(["webhooks", "redeliver", failed?.id ?? "", "--reason", "drill"], cliEnv);
      expect(viaCli.status, viaCli.stderr).toBe(0);
      expect(viaCli.stdout).toContain(`Redelivery of ${failed?.id}`);
      await until(
        () => deliveries(`?job=${jobId}`),
        (r) => r[0]?.attempts === 6 && r[0].status === "delivered",
        30_000,
        "CLI redelivery",
      );
      const missing = await runCliAsync(["webhooks", "redeliver", "no-such-delivery"], cliEnv);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain("WEBHOOK_DELIVERY_NOT_FOUND");
    });

    it("refuses a callback URL that is not http(s) with 400 WEBHOOK_URL_REFUSED, and scopes the log to the workspace", async () => {
      for (const bad of ["ftp://example.com/x", "file:///etc/passwd", "not a url", "http://user:pw@example.com/"]) {
        const res = await submit("echo", "bad-url", bad);
        expect(res.statusCode, bad).toBe(400);
        expect(res.json<{ error: { code: string } }>().error.code).toBe("WEBHOOK_URL_REFUSED");
      }
      await t.sluice.intake.ensureWorkspace("ws-hooks-other", "Other");
      const otherAdmin = (await t.sluice.intake.createApiKey({ workspaceId: "ws-hooks-other", scopes: ["admin"] })).secret;
      const theirs = await t.app.inject({ method: "GET", url: "/api/webhooks/deliveries", headers: auth(otherAdmin) });
      expect(theirs.json()).toEqual([]);
      const [mine] = await deliveries();
      const peek = await t.app.inject({
        method: "POST",
        url: `/api/webhooks/deliveries/${mine?.id}/redeliver`,
        headers: auth(otherAdmin),
        payload: {},
      });
      expect(peek.statusCode).toBe(404);
      expect(peek.json<{ error: { code: string } }>().error.code).toBe("WEBHOOK_DELIVERY_NOT_FOUND");
    });

    it("rotates the workspace's secret with the runbook's `sluice webhooks rotate-secret`: both the old and the new one sign during the grace period", async () => {
      const line = runbookLine('### Results without polling; "a client says it never got the callback"', "sluice webhooks rotate-secret");
      const address = t.app.server.address();
      const url =
        address && typeof address === "object" ? `http://127.0.0.1:${address.port}` : await t.app.listen({ port: 0, host: "127.0.0.1" });
      const rotated = await runRunbookLine(line, {}, { SLUICE_URL: url, SLUICE_API_KEY: admin });
      expect(rotated.status, rotated.stderr).toBe(0);
      const secret = rotated.stdout.trim();
      expect(secret).toMatch(/^whsec_\S+$/);
      const previousValidUntil = /previous secret also signs until (\S+)\.$/m.exec(rotated.stderr)?.[1] ?? "";
      expect(new Date(previousValidUntil).getTime(), rotated.stderr).toBeGreaterThan(Date.now());
      const jobId = (await submit("echo", "rotated", `${receiver.url}/rotated`)).json<{ id: string }>().id;
      await until(
        () => deliveries(`?job=${jobId}`),
        (r) => r[0]?.status === "delivered",
        30_000,
        "delivered",
      );
      const [request] = receiver.received.get("/rotated") ?? [];
      expect(request?.signature?.match(/v1=/g)).toHaveLength(2);
      expect(verifySignature(secret, request?.body ?? "", request?.signature)).toMatchObject({ ok: true });
      expect(verifySignature(SECRET, request?.body ?? "", request?.signature)).toMatchObject({ ok: true });
      const other = await t.app.inject({
        method: "POST",
        url: "/api/webhooks/secret/rotate",
        headers: auth(admin),
        payload: { workspace: "ws-someone-else" },
      });
      expect(other.statusCode).toBe(404);
    });

    it("sends a settled pipeline run's callback (run.completed) to the workspace's default URL", async () => {
      await t.app.inject({
        method: "PATCH",
        url: "/api/workspaces/ws-hooks",
        headers: auth(await operatorKey()),
        payload: { webhook_url: `${receiver.url}/runs` },
      });
      const started = await t.app.inject({
        method: "POST",
        url: "/api/pipelines/hooked/runs",
        headers: auth(writer),
        payload: { input: { name: "ada" }, client_request_id: `run-${Date.now()}` },
      });
      expect(started.statusCode, started.body).toBe(202);
      const runId = started.json<{ id: string }>().id;
      const [delivery] = await until(
        () => deliveries(`?run=${runId}`),
        (r) => r[0]?.status === "delivered",
        30_000,
        "run delivered",
      );
      expect(delivery).toMatchObject({ event: "run.completed", subject: `run:${runId}`, target: `${receiver.url}/runs`, attempts: 1 });
      const [request] = receiver.received.get("/runs") ?? [];
      expect(verifySignature(SECRET, request?.body ?? "", request?.signature)).toMatchObject({ ok: true });
      expect(JSON.parse(request?.body ?? "{}")).toMatchObject({
        type: "run.completed",
        workspace: "ws-hooks",
        data: { run: { id: runId, pipeline: "hooked", status: "completed", output: { greeting: "hello ada" } } },
      });
      await t.app.inject({
        method: "PATCH",
        url: "/api/workspaces/ws-hooks",
        headers: auth(await operatorKey()),
        payload: { webhook_url: null },
      });
    });

    it("loses no delivery across a worker restart: the retry waits in the queue and the next worker sends it", async () => {
      // The first attempt fails and the worker stops before the retry (200 ms later) is due: the retry
      // falls to the next one. Spare attempts: an attempt cut short by the stop may be counted too.
      receiver.failFirst.set("/restart", 1);
      const jobId = (await submit("echo", "restart", `${receiver.url}/restart`)).json<{ id: string }>().id;
      await until(
        async () => receiver.received.get("/restart")?.length ?? 0,
        (n) => n >= 1,
        30_000,
        "first attempt",
      );
      await t.close();
      const afterStop = receiver.received.get("/restart")?.length ?? 0;
      t = await start();
      const [delivery] = await until(
        () => deliveries(`?job=${jobId}`),
        (r) => r[0]?.status === "delivered",
        30_000,
        "delivered after restart",
      );
      expect(delivery?.attempts).toBeGreaterThanOrEqual(2);
      const requests = receiver.received.get("/restart") ?? [];
      expect(requests.length).toBeGreaterThan(afterStop);
      expect(requests.at(-1)?.answered).toBe(200);
      expect(verifySignature(SECRET, requests.at(-1)?.body ?? "", requests.at(-1)?.signature)).toMatchObject({ ok: true });
    });

    let operator: string | undefined;
    async function operatorKey(): Promise<string> {
      operator ??= (await t.sluice.intake.createApiKey({ workspaceId: "ws-hooks", scopes: ["operator"] })).secret;
      return operator;
    }
  },
);
