import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { definePipeline } from "../../src/pipeline/runs/index.ts";
import { verifySignature, type WebhookBody, type WebhookEvent } from "../../src/pipeline/webhooks/index.ts";
import { describeCasesAtOnce } from "../harness/cases-at-once.ts";
import { runCliAsync } from "../harness/cli.ts";
import { CRASH_TIMING, redisBackend, startCrashWorker, type CrashWorker, type WorkerEvent } from "../harness/crash-worker.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";
import { until } from "../harness/wait.ts";
import { startReceiver } from "../harness/webhook-receiver.ts";

/**
 * Issue 12: a run whose queue job stalls out. The run's job is re-run after one stall only (the
 * queue's maxStalledCount, 1); when the worker carrying it dies a second time, the stalled check of
 * a live worker fails the job without running it. The run is then driven again by a fresh job, and
 * what bounds a step body that kills its worker every time is the step's own retry policy: a try
 * its worker died in counts as an attempt, and after maxAttempts the step (and so the run) fails
 * JOB_STALLED. A crash outside any step fails the run once its fresh job stalls out too.
 *
 * Real worker processes (tests/fixtures/runs-crash-worker.ts, pipeline "crashy": steps one, two,
 * three), SIGKILLed where they announce a hang; the API in this process runs no workers. Redis
 * logical databases 60-62 (Redis queues) are this file's alone.
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
interface WorkerConfig {
  hangInTwo?: boolean;
  hangAfterTwo?: boolean;
  twoMaxAttempts?: number;
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver();
});

afterAll(async () => {
  await receiver?.close();
});

/** The callbacks that reached a scene's path on the receiver (one path per scene: the scenes run at once). */
const hooks = (scene: Scene) =>
  (receiver.received.get(scene.hookPath) ?? []).map((r) => ({ ...r, parsed: JSON.parse(r.body) as WebhookBody }));
const hookTypes = (scene: Scene) => hooks(scene).map((h) => h.parsed.type);

/** One run of "crashy" started through the API, the workers that take it, and the operator's CLI. */
interface Scene {
  id: string;
  /** The run's callback path on the receiver. */
  hookPath: string;
  run: () => Promise<RunView>;
  effects(): Promise<Record<string, number>>;
  startWorker(config: WorkerConfig): CrashWorker<ChildEvent>;
  /** Starts a worker, waits for it to announce the hang (`event`), and SIGKILLs it; `times` over. */
  killIn(event: "in-two" | "after-two", config: WorkerConfig, times: number): Promise<void>;
  /** `sluice runs replay <id>` over a real socket (the runbook's command). */
  replay(): Promise<string>;
}

async function withScene(backend: Record<string, string>, body: (scene: Scene) => Promise<void>): Promise<void> {
  const hookPath = `/hook-${randomUUID()}`;
  const env = {
    ...backend,
    ...CRASH_TIMING,
    LOG_LEVEL: "silent",
    WEBHOOK_SIGNING_SECRET: SECRET,
    // The receiver listens on loopback, which production refuses (SSRF); tests must allow it.
    WEBHOOK_ALLOW_PRIVATE: "true",
  };
  const workers: Array<CrashWorker<ChildEvent>> = [];
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
      payload: { input: { n: 1 }, callback_url: `${receiver.url}${hookPath}` },
    });
    expect(started.statusCode, started.body).toBe(202);
    const { id } = started.json<{ id: string }>();
    const startWorker = (config: WorkerConfig) => {
      const worker = startCrashWorker<ChildEvent>("runs-crash-worker", { ...env, RUNS_CRASH_CONFIG: JSON.stringify(config) });
      workers.push(worker);
      return worker;
    };
    await body({
      id,
      hookPath,
      run: async () => (await app.inject({ method: "GET", url: `/api/runs/${id}`, headers: { authorization: `Bearer ${writer}` } })).json(),
      async effects() {
        const { rows } = await sluice.store.query<{ step: string; n: number }>(
          "SELECT step, count(*)::int AS n FROM runs_crash_effects WHERE run_id = $1 GROUP BY step ORDER BY step",
          [id],
        );
        return Object.fromEntries(rows.map((r) => [r.step, r.n]));
      },
      startWorker,
      async killIn(event, config, times) {
        for (let kill = 1; kill <= times; kill++) {
          const worker = startWorker(config);
          await worker.waitForEvent(event);
          await worker.kill();
        }
      },
      async replay() {
        const url = await app.listen({ port: 0, host: "127.0.0.1" });
        const replayed = await runCliAsync(["runs", "replay", id], { SLUICE_URL: url, SLUICE_API_KEY: admin });
        expect(replayed.status, replayed.stderr).toBe(0);
        return replayed.stdout;
      },
    });
  } finally {
    await Promise.all(workers.map((w) => w.kill()));
    await api?.close();
  }
}

/** Exactly one signed `run.failed` for the run, carrying its error. */
function expectOneFailedHook(scene: Scene, failedStep: string | null): void {
  const id = scene.id;
  const failedHooks = hooks(scene).filter((h) => h.parsed.type === "run.failed");
  expect(failedHooks).toHaveLength(1);
  expect(verifySignature(SECRET, failedHooks[0]!.body, failedHooks[0]!.signature)).toMatchObject({ ok: true });
  expect(failedHooks[0]!.parsed).toMatchObject({
    workspace: "acme",
    data: { run: { id, status: "failed", failed_step: failedStep, error: { code: "JOB_STALLED" } } },
  });
}

const settled = (r: RunView) => ["completed", "failed", "cancelled"].includes(r.status);
const waitForHook = (scene: Scene, type: WebhookEvent) =>
  until(
    async () => hookTypes(scene),
    (types) => types.includes(type),
    30_000,
    `the ${type} callback`,
  );

/**
 * Step two kills its worker in each of its 2 allowed attempts; the second death stalls the job out.
 * A third worker (whose step two would hang too) takes the fresh job, finds attempt 2 of 2 left
 * `running`, and fails the step instead of running it a third time. A replay on a healthy worker
 * runs it again from step two.
 */
async function stepBoundedByItsAttempts(backend: Record<string, string>): Promise<void> {
  await withScene(backend, async (scene) => {
    await scene.killIn("in-two", { hangInTwo: true, twoMaxAttempts: 2 }, 2);
    expect((await scene.run()).status).toBe("running");

    const third = scene.startWorker({ hangInTwo: true, twoMaxAttempts: 2 });
    const failed = await until(scene.run, settled, 60_000, "the run settled");
    expect(failed.status).toBe("failed");
    expect(failed.failed_step).toBe("two");
    expect(failed.error?.code).toBe("JOB_STALLED");
    expect(failed.error?.message).toContain("stopped during attempt 2 of 2");
    expect(failed.steps.map((s) => [s.name, s.status, s.attempts, s.error?.code ?? null])).toEqual([
      ["one", "completed", 1, null],
      ["two", "failed", 2, "JOB_STALLED"],
    ]);
    expect(third.events.map((e) => e.event)).not.toContain("in-two");
    await waitForHook(scene, "run.failed");

    // The operator's replay (default: from the failed step) on a healthy worker.
    await third.kill();
    scene.startWorker({});
    expect(await scene.replay()).toMatch(/^Run \S+ is \w+ again\.$/m);
    const completed = await until(scene.run, settled, 60_000, "the replayed run settled");
    expect(completed.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ["one", "completed", 1],
      ["two", "completed", 1],
      ["three", "completed", 1],
    ]);
    expect(await scene.effects()).toEqual({ one: 1, three: 1, two: 1 });
    await waitForHook(scene, "run.completed");
    expectOneFailedHook(scene, "two");
  });
}

/** Step two kills its worker twice and has a third attempt: the stalled-out run is driven again and completes. */
async function redrivenWithAttemptsLeft(backend: Record<string, string>): Promise<void> {
  await withScene(backend, async (scene) => {
    await scene.killIn("in-two", { hangInTwo: true }, 2);
    scene.startWorker({});
    const completed = await until(scene.run, settled, 60_000, "the run settled");
    expect(completed.status).toBe("completed");
    expect(completed.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ["one", "completed", 1],
      ["two", "completed", 3],
      ["three", "completed", 1],
    ]);
    expect(await scene.effects()).toEqual({ one: 1, three: 1, two: 1 });
    await waitForHook(scene, "run.completed");
    expect(hookTypes(scene)).not.toContain("run.failed");
  });
}

/**
 * The function's own code (between steps two and three) kills its worker: the job stalls out, the
 * fresh job stalls out too (four deaths), and the run fails JOB_STALLED with no failed step; a fifth
 * worker never runs it. A replay (from the first step: there is no failed one) completes it.
 */
async function crashOutsideSteps(backend: Record<string, string>): Promise<void> {
  await withScene(backend, async (scene) => {
    await scene.killIn("after-two", { hangAfterTwo: true }, 4);
    const fifth = scene.startWorker({ hangAfterTwo: true });
    const failed = await until(scene.run, settled, 60_000, "the run settled");
    expect(failed.status).toBe("failed");
    expect(failed.failed_step).toBeNull();
    expect(failed.error?.code).toBe("JOB_STALLED");
    expect(failed.error?.message).toContain("outside any step");
    expect(failed.steps.map((s) => [s.name, s.status])).toEqual([
      ["one", "completed"],
      ["two", "completed"],
    ]);
    expect(fifth.events.map((e) => e.event)).not.toContain("after-two");
    await waitForHook(scene, "run.failed");

    // No failed step: the replay starts from the first step, on a healthy worker.
    await fifth.kill();
    scene.startWorker({});
    await scene.replay();
    const completed = await until(scene.run, settled, 60_000, "the replayed run settled");
    expect(completed.status).toBe("completed");
    expect(await scene.effects()).toEqual({ one: 2, three: 1, two: 2 });
    await waitForHook(scene, "run.completed");
    expectOneFailedHook(scene, null);
  });
}

// Up to five worker processes per test, each death taken over after the lock (2 s) and a stall check (1 s).
// On one queue backend: what a run does here rests on the queue telling onStalledOut once, which
// tests/integration/queue-crash checks on Redis and on PostgreSQL. The three at the same time, each
// with its own Redis logical database (60-62), PostgreSQL database and callback path.
const CASES = [
  {
    name: "a step that kills its worker in every attempt fails JOB_STALLED after maxAttempts, and replays",
    db: 60,
    scenario: stepBoundedByItsAttempts,
  },
  {
    name: "a step that killed its worker twice with an attempt left completes: the run is driven again",
    db: 61,
    scenario: redrivenWithAttemptsLeft,
  },
  {
    name: "a crash outside any step fails the run JOB_STALLED once its fresh job stalls out too",
    db: 62,
    scenario: crashOutsideSteps,
  },
];

describeCasesAtOnce(
  "a run whose queue job stalls out (Redis queues + PostgreSQL store)",
  CASES,
  (c) => c.name,
  ({ db, scenario }) => {
    it("settles as the step's retry policy says", { timeout: 240_000 }, async () => {
      await scenario(await redisBackend("runstall", db));
    });
  },
);
