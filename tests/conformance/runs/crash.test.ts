import { expect, it } from "vitest";
import {
  CRASH_TIMING,
  embeddedBackend,
  postgresBackend,
  redisBackend,
  startCrashWorker,
  type WorkerEvent,
} from "../../harness/crash-worker.ts";
import { describeCasesAtOnce } from "../../harness/cases-at-once.ts";

/**
 * Resume after SIGKILL, on each backend: a worker process dies inside step two of a run; the next
 * worker process resumes the run from its last completed step. Step one's side effect happened
 * once, step two ran again (its second attempt) and three once. Lock 2 s and stall check 1 s keep
 * this to seconds. Redis logical database 17 is this file's alone.
 */

interface ChildEvent extends WorkerEvent {
  run?: string;
  status?: string;
  effects?: Record<string, number>;
  steps?: Array<{ name: string; status: string; attempts: number }>;
}

const startChild = (env: Record<string, string>, config: Record<string, unknown>) =>
  startCrashWorker<ChildEvent>("runs-crash-worker", {
    ...CRASH_TIMING,
    LOG_LEVEL: "silent",
    ...env,
    RUNS_CRASH_CONFIG: JSON.stringify(config),
  });

async function crashAndResume(env: Record<string, string>): Promise<ChildEvent> {
  const first = startChild(env, { start: true, hangInTwo: true });
  const { run } = await first.waitForEvent("started");
  await first.waitForEvent("in-two");
  await first.kill();
  const second = startChild(env, { watch: run });
  try {
    return await second.waitForEvent("settled");
  } finally {
    await second.kill();
  }
}

function expectResumed(settled: ChildEvent): void {
  expect(settled.status).toBe("completed");
  expect(settled.effects).toEqual({ one: 1, two: 1, three: 1 });
  expect(settled.steps).toEqual([
    { name: "one", status: "completed", attempts: 1 },
    { name: "two", status: "completed", attempts: 2 },
    { name: "three", status: "completed", attempts: 1 },
  ]);
}

// Two process starts and a lock expiry per backend, the backends at the same time (each its own
// database, Redis logical database or data folder, and worker processes).
const BACKENDS = [
  { name: "embedded PGlite: the next process on the same data folder finishes it", env: async () => embeddedBackend("sluice-runs-crash-") },
  { name: "PostgreSQL queues", env: () => postgresBackend("runcrash") },
  { name: "Redis queues + PostgreSQL store", env: () => redisBackend("runcrash", 17) },
];

describeCasesAtOnce(
  "a run resumes after its worker is SIGKILLed mid-step",
  BACKENDS,
  (c) => c.name,
  ({ env }) => {
    it("from its last completed step", { timeout: 180_000 }, async () => {
      expectResumed(await crashAndResume(await env()));
    });
  },
);
