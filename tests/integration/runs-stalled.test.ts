import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { verifySignature, type WebhookBody } from "../../src/pipeline/webhooks/index.ts";
import { runCliAsync } from "../harness/cli.ts";
import {
  CRASH_TIMING,
  postgresBackend,
  redisBackend,
  startCrashWorker,
  type CrashWorker,
  type WorkerEvent,
} from "../harness/crash-worker.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";

/**
 * Issue 12: a run whose queue job stalls out (the worker process carrying it SIGKILLed mid-step
 * more often than maxStalledCount, 1, allows) fails visibly instead of staying `running`: the
 * stalled check of a third, live worker fails the job unrun, and the run reads failed with the step
 * it was in failed JOB_STALLED, its callback_url gets a signed `run.failed`, and a replay from that
 * step (`sluice runs replay`; healthy in the live worker) completes it. Real worker processes (tests/fixtures/runs-crash-
 * worker.ts: pipeline "crashy", step two hangs in the first two), the API in this process with no
 * workers. Redis logical databases 60 (Redis queues) are this file's alone.
 */
const SECRET = "runs-stalled-signing-secret-0123456789";

interface ChildEvent extends WorkerEvent {
  run?: string;
}

interface StepView {
  name: string;
  status: string;
  attempts: number;
  error: { code: string; message: string } | null;
}
interface RunView {
  status: string;
  failed_step: string | null;
  error: { code: string; message: string } | null;
  steps: StepView[];
}

describe("a run whose job stalls out fails visibly and replays", { timeout: 240_000 }, () => {
  let receiver: Server;
  let receiverUrl: string;
  const received: Array<{ body: string; signature: string | undefined }> = [];

  beforeAll(async () => {
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
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  });

  async function stallOutAndReplay(backend: Record<string, string>): Promise<void> {
    received.length = 0;
    const env = {
      ...backend,
      ...CRASH_TIMING,
      LOG_LEVEL: "silent",
      WEBHOOK_SIGNING_SECRET: SECRET,
      // The receiver listens on loopback, which production refuses (SSRF); tests must allow it.
      WEBHOOK_ALLOW_PRIVATE: "true",
    };
    const workers: Array<CrashWorker<ChildEvent>> = [];
    const startWorker = (hangInTwo: boolean) => {
      const worker = startCrashWorker<ChildEvent>("runs-crash-worker", { ...env, RUNS_CRASH_CONFIG: JSON.stringify({ hangInTwo }) });
      workers.push(worker);
      return worker;
    };
    let api: TestSluice | undefined;
    try {
      api = await startTestSluice(env);
      const { sluice, app } = api;
      // The API process knows the pipeline to start it; it runs no workers, so its body never runs here.
      sluice.pipeline(definePipeline({ name: "crashy", input: z.object({ n: z.number() }) }, () => Promise.resolve(null)));
      await sluice.intake.ensureWorkspace("acme", "Acme");
      const writer = (await sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["jobs:write", "jobs:read"] })).secret;
      const admin = (await sluice.intake.createApiKey({ workspaceId: "acme", scopes: ["admin"] })).secret;
      const started = await app.inject({
        method: "POST",
        url: "/api/pipelines/crashy/runs",
        headers: { authorization: `Bearer ${writer}` },
        payload: { input: { n: 1 }, callback_url: receiverUrl },
      });
      expect(started.statusCode, started.body).toBe(202);
      const { id } = started.json<{ id: string }>();
      const run = async () =>
        (await app.inject({ method: "GET", url: `/api/runs/${id}`, headers: { authorization: `Bearer ${writer}` } })).json<RunView>();

      // Killed inside step two twice: the first stall puts the job back, the second is one too many.
      for (let kill = 1; kill <= 2; kill++) {
        const worker = startWorker(true);
        await worker.waitForEvent("in-two");
        await worker.kill();
      }
      expect((await run()).status).toBe("running");

      // A live worker's stalled check finds the job, and the worker that takes it next fails it unrun.
      startWorker(false);
      const failed = await until(run, (r) => r.status === "failed", 60_000, "the run failed");
      expect(failed.failed_step).toBe("two");
      expect(failed.error?.code).toBe("JOB_STALLED");
      expect(failed.error?.message).toContain("its worker died 2 times while running it");
      expect(failed.steps.map((s) => [s.name, s.status, s.error?.code ?? null])).toEqual([
        ["one", "completed", null],
        ["two", "failed", "JOB_STALLED"],
      ]);

      const delivered = await until(
        async () => received.map((r) => ({ ...r, parsed: JSON.parse(r.body) as WebhookBody })),
        (all) => all.some((r) => r.parsed.type === "run.failed"),
        30_000,
        "the run.failed callback",
      );
      const failedHook = delivered.find((r) => r.parsed.type === "run.failed")!;
      expect(verifySignature(SECRET, failedHook.body, failedHook.signature)).toMatchObject({ ok: true });
      expect(failedHook.parsed).toMatchObject({
        workspace: "acme",
        data: { run: { id, status: "failed", failed_step: "two", error: { code: "JOB_STALLED" } } },
      });

      // The operator's replay from the failed step (the runbook's command, over a real socket): the
      // live worker's step two is healthy.
      const url = await app.listen({ port: 0, host: "127.0.0.1" });
      const replayed = await runCliAsync(["runs", "replay", id, "--from-step", "two"], { SLUICE_URL: url, SLUICE_API_KEY: admin });
      expect(replayed.status, replayed.stderr).toBe(0);
      expect(replayed.stdout).toContain("again from step two");
      const completed = await until(run, (r) => r.status === "completed", 60_000, "the replayed run completed");
      expect(completed.steps.map((s) => [s.name, s.status])).toEqual([
        ["one", "completed"],
        ["two", "completed"],
        ["three", "completed"],
      ]);
      await until(
        async () => received.map((r) => (JSON.parse(r.body) as WebhookBody).type),
        (types) => types.includes("run.completed"),
        30_000,
        "the run.completed callback",
      );
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
      await api?.close();
    }
  }

  it("on Redis queues + PostgreSQL store", async () => {
    await stallOutAndReplay(await redisBackend("runstall", 60));
  });

  it("on PostgreSQL queues", async () => {
    await stallOutAndReplay(await postgresBackend("runstall"));
  });
});
