import type { ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CATALOGUE } from "../../src/core/errors.ts";
import { verifySignature, type WebhookBody } from "../../src/pipeline/webhooks/index.ts";
import { startFakeProviderServer, type FakeProviderServer } from "../fakes/openai-server.ts";
import { startCli } from "../harness/cli.ts";
import { freshPostgresDatabase, redisUrl } from "../harness/databases.ts";
import { stopTracked } from "../harness/processes.ts";
import { freePort } from "../harness/servers.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { sleep, until } from "../harness/wait.ts";

/**
 * Issue 12: a job that stalls out (its worker process SIGKILLed mid-call more often than
 * maxStalledCount, 1 by default, allows) is failed by the stalled check; that failure reaches the
 * tenant like any other: GET /ai/jobs/{id} reads failed with a reason that says so, and the job's
 * callback_url gets one signed `job.failed`. Real `sluice start --role worker` processes (compiled
 * dist/), PostgreSQL + Redis (logical database 53), a provider that never answers in time.
 */
const SECRET = "stalled-signing-secret-0123456789";
const REDIS_DB = 53;

interface Received {
  body: string;
  signature: string | undefined;
}

describe("a job failed for stalling, through real worker processes and its webhook", () => {
  let fake: FakeProviderServer;
  let api: TestSluice;
  let receiver: Server;
  let receiverUrl: string;
  const received: Received[] = [];
  let env: Record<string, string>;
  let writer: string;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    const redis = new Redis(redisUrl(REDIS_DB));
    await redis.flushdb();
    redis.disconnect();
    fake = await startFakeProviderServer();
    // Every call hangs past the test: the job is always mid-call when its worker dies.
    fake.setLatency(120_000);
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        const signature = req.headers["sluice-signature"];
        received.push({ body, signature: typeof signature === "string" ? signature : undefined });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    env = {
      DATABASE_URL: await freshPostgresDatabase("stalled"),
      REDIS_URL: redisUrl(REDIS_DB),
      VECTOR_SEARCH_ENABLED: "false",
      AI_PROVIDER: "openai",
      OPENAI_BASE_URL: fake.openaiBaseUrl,
      OPENAI_API_KEY: "sk-test",
      AI_REQUEST_TIMEOUT_MS: "120000",
      CACHE_ENABLED: "false",
      WEBHOOK_SIGNING_SECRET: SECRET,
      // The receiver listens on loopback, which production refuses (SSRF); tests must allow it.
      WEBHOOK_ALLOW_PRIVATE: "true",
      // A dead worker's job is found in seconds, not the production 30 s.
      QUEUE_LOCK_DURATION_MS: "2000",
      QUEUE_STALLED_INTERVAL_MS: "1000",
      LOG_LEVEL: "warn",
    };
    api = await startTestSluice(env);
    await api.sluice.intake.ensureWorkspace("ws-stall", "Stall");
    writer = (await api.sluice.intake.createApiKey({ workspaceId: "ws-stall", scopes: ["jobs:write", "jobs:read"] })).secret;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => stopTracked(w, "SIGKILL")));
    await api?.close();
    await fake?.close();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  });

  const outputs: (() => string)[] = [];
  const startWorker = async (): Promise<ChildProcess> => {
    const { child, output } = await startCli(["start", "--role", "worker"], env, await freePort());
    workers.push(child);
    outputs.push(output);
    return child;
  };
  const job = async (id: string) =>
    (await api.app.inject({ method: "GET", url: `/ai/jobs/${id}`, headers: { authorization: `Bearer ${writer}` } })).json<{
      status: string;
      error: string | null;
    }>();

  it("reads failed with a JOB_STALLED reason, and the callback gets one signed job.failed", async () => {
    const submitted = await api.app.inject({
      method: "POST",
      url: "/ai/jobs",
      headers: { authorization: `Bearer ${writer}` },
      payload: { type: "llm.complete", input: { prompt: "never answered" }, client_request_id: "stall-1", callback_url: receiverUrl },
    });
    expect(submitted.statusCode, submitted.body).toBe(202);
    const { id } = submitted.json<{ id: string }>();

    // Killed mid-call twice: the first stall puts the job back (maxStalledCount 1), the second is one too many.
    for (let kill = 1; kill <= 2; kill++) {
      const worker = await startWorker();
      await until(
        async () => fake.stats.requests,
        (n) => n >= kill,
        60_000,
        `the provider call of try ${kill}`,
      );
      await stopTracked(worker, "SIGKILL");
    }
    expect((await job(id)).status).not.toBe("failed");

    // A live worker's stalled check finds it, and the worker that takes it next fails it unrun.
    await startWorker();
    const failed = await until(
      () => job(id),
      (j) => j.status === "failed",
      60_000,
      "the job failed",
    );
    expect(failed.error).toBe(`JOB_STALLED: ${ERROR_CATALOGUE.JOB_STALLED.message}`);

    // The worker that failed it records and delivers the callback: its log says why when none comes.
    await until(
      async () => received.length,
      (n) => n >= 1,
      30_000,
      "the callback",
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; the last worker's log:\n${outputs.at(-1)?.() ?? ""}`);
    });
    await sleep(3_000); // a second delivery would have come by now
    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(verifySignature(SECRET, delivery?.body ?? "", delivery?.signature)).toMatchObject({ ok: true });
    expect(JSON.parse(delivery?.body ?? "{}") as WebhookBody).toMatchObject({
      type: "job.failed",
      workspace: "ws-stall",
      data: { job: { id, status: "failed", error: `JOB_STALLED: ${ERROR_CATALOGUE.JOB_STALLED.message}` } },
    });
    // The processor never ran a third time: the stalled-out job was failed, not retried.
    expect(fake.stats.requests).toBe(2);

    // The tenant's listing (the job index) has it as failed too.
    const listed = await api.app.inject({
      method: "GET",
      url: "/ai/jobs?status=failed",
      headers: { authorization: `Bearer ${writer}` },
    });
    expect(listed.json<{ jobs: Array<{ id: string }> }>().jobs.map((j) => j.id)).toContain(id);
  }, 240_000);
});
