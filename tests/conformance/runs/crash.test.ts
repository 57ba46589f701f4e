import { rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { freshPostgresDatabase, redisUrl } from "../../harness/databases.ts";
import { compiledFixture } from "../../harness/fixtures.ts";
import { newEmbeddedDataDir } from "../../harness/pglite-template.ts";
import { spawnTracked } from "../../harness/processes.ts";

/**
 * Resume after SIGKILL, on each backend: a worker process dies inside step two of a run; the next
 * worker process resumes the run from its last completed step. Step one's side effect happened
 * once, step two ran again (its second attempt) and three once. Lock 2 s and stall check 1 s keep
 * this to seconds. Redis logical database 17 is this file's alone.
 */
const TIMING = { QUEUE_LOCK_DURATION_MS: "2000", QUEUE_STALLED_INTERVAL_MS: "1000", LOG_LEVEL: "silent" };

interface ChildEvent {
  event: string;
  run?: string;
  status?: string;
  message?: string;
  effects?: Record<string, number>;
  steps?: Array<{ name: string; status: string; attempts: number }>;
}

function startChild(env: Record<string, string>, config: Record<string, unknown>) {
  const child = spawnTracked(process.execPath, [compiledFixture("runs-crash-worker")], {
    env: { ...process.env, ...TIMING, ...env, RUNS_CRASH_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: ChildEvent[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      events.push(JSON.parse(line) as ChildEvent);
    } catch {
      // not ours
    }
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const waitFor = async (kind: string, timeoutMs = 90_000): Promise<ChildEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failure = events.find((e) => e.event === "error");
      if (failure) throw new Error(`child failed: ${failure.message}`);
      const found = events.find((e) => e.event === kind);
      if (found) return found;
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`no ${kind} from the child; events ${JSON.stringify(events)}; stderr ${stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, waitFor, exited };
}

async function crashAndResume(env: Record<string, string>): Promise<ChildEvent> {
  const first = startChild(env, { start: true, hangInTwo: true });
  const { run } = await first.waitFor("started");
  await first.waitFor("in-two");
  first.child.kill("SIGKILL");
  await first.exited;
  const second = startChild(env, { watch: run });
  try {
    return await second.waitFor("settled");
  } finally {
    second.child.kill("SIGKILL");
    await second.exited;
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

// Two process starts (PGlite: about 10 s each on a busy machine) and a lock expiry per test.
describe("a run resumes after its worker is SIGKILLed mid-step", { timeout: 180_000 }, () => {
  const folders: string[] = [];
  afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("on embedded PGlite: the next process on the same data folder finishes it", async () => {
    const dir = newEmbeddedDataDir("sluice-runs-crash-");
    folders.push(dir);
    expectResumed(await crashAndResume({ SLUICE_DATA_DIR: dir }));
  });

  it("on PostgreSQL queues", async () => {
    expectResumed(
      await crashAndResume({
        DATABASE_URL: await freshPostgresDatabase("runcrash"),
        QUEUE_BACKEND: "postgres",
        VECTOR_SEARCH_ENABLED: "false",
      }),
    );
  });

  it("on Redis queues + PostgreSQL store", async () => {
    expectResumed(
      await crashAndResume({
        DATABASE_URL: await freshPostgresDatabase("runcrash"),
        REDIS_URL: redisUrl(17),
        QUEUE_BACKEND: "redis",
        VECTOR_SEARCH_ENABLED: "false",
      }),
    );
  });
});
