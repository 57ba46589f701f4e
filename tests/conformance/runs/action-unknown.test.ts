import { rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeGithub, type FakeGithub } from "../../fakes/github-server.ts";
import { freshPostgresDatabase, redisUrl } from "../../harness/databases.ts";
import { compiledFixture } from "../../harness/fixtures.ts";
import { newEmbeddedDataDir } from "../../harness/pglite-template.ts";
import { spawnTracked } from "../../harness/processes.ts";

/**
 * A run's `step.action` whose call a SIGKILL cut off: its outcome is unknown, a person decides on
 * the `action.unknown` task, and the run resumes by calling the executor again with the same key,
 * which applies the decision. Three runs, one per decision: "rerun" (GitHub sees a second call and
 * the step completes with its answer), "not-run" (no second call; the step fails ACTION_SKIPPED),
 * "done" (no second call; the step completes with the result the person gave). The fake GitHub
 * counts the calls. Redis logical database 32 is this file's alone.
 */
const TOKEN = "ghp_runs_unknown";
const WORKSPACE = "ws-unknown";
const TIMING = { QUEUE_LOCK_DURATION_MS: "2000", QUEUE_STALLED_INTERVAL_MS: "1000", ACTIONS_LEASE_MS: "1000", LOG_LEVEL: "silent" };
const TITLES = { rerun: "issue-rerun", "not-run": "issue-not-run", done: "issue-done" } as const;

interface ChildEvent {
  event: string;
  message?: string;
  runs?: Record<string, unknown>;
}

function startChild(env: Record<string, string>, config: Record<string, unknown>) {
  const child = spawnTracked(process.execPath, [compiledFixture("runs-action-crash-worker")], {
    env: { ...process.env, ...TIMING, ...env, RUNS_ACTION_CRASH_CONFIG: JSON.stringify({ workspace: WORKSPACE, ...config }) },
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

let github: FakeGithub;
beforeAll(async () => {
  github = await startFakeGithub(TOKEN);
});
afterAll(async () => {
  await github?.close();
});

const callsFor = (title: string): number =>
  github.requests.filter((r) => r.method === "POST" && (r.json as { title?: string } | null)?.title === title).length;

interface RunOutcome {
  status: string;
  error: { code: string } | null;
  output: { issue: Record<string, unknown> } | null;
}

async function crashAndDecide(backend: Record<string, string>): Promise<Record<string, RunOutcome | undefined>> {
  github.requests.length = 0;
  github.holdWhen(() => true);
  const env = {
    ...backend,
    ACTIONS_ENABLED: "true",
    ALLOW_ACTIONS_DEFAULT: "github.issue.create",
    ACTIONS_GITHUB_BASE_URL: github.url,
    ACTIONS_GITHUB_TOKEN: TOKEN,
  };
  const first = startChild(env, { start: Object.values(TITLES) });
  const started = (await first.waitFor("started")).runs as Record<string, string>;
  const deadline = Date.now() + 60_000;
  while (Object.values(TITLES).some((t) => callsFor(t) < 1)) {
    if (Date.now() > deadline) throw new Error("the three calls never reached the fake GitHub");
    await new Promise((r) => setTimeout(r, 50));
  }
  first.child.kill("SIGKILL");
  await first.exited;
  github.holdWhen(undefined);

  const decide = Object.fromEntries(Object.entries(TITLES).map(([decision, title]) => [started[title]!, decision]));
  const second = startChild(env, { decide });
  try {
    const settled = (await second.waitFor("settled")).runs as Record<string, RunOutcome>;
    return Object.fromEntries(Object.entries(TITLES).map(([decision, title]) => [decision, settled[started[title]!]]));
  } finally {
    second.child.kill("SIGKILL");
    await second.exited;
  }
}

function expectDecisionsApplied(runs: Awaited<ReturnType<typeof crashAndDecide>>): void {
  // Re-run: called once more with the same key, and the step completed with GitHub's answer.
  expect(callsFor(TITLES.rerun)).toBe(2);
  expect(runs.rerun?.status).toBe("completed");
  expect(runs.rerun?.output?.issue).toMatchObject({ number: expect.any(Number), url: expect.stringContaining("acme/app/issues") });
  // Not run: no second call, the step (and so the run) failed with a code that says why.
  expect(callsFor(TITLES["not-run"])).toBe(1);
  expect(runs["not-run"]?.status).toBe("failed");
  expect(runs["not-run"]?.error?.code).toBe("ACTION_SKIPPED");
  // Done: no second call, the step completed with the result the person gave.
  expect(callsFor(TITLES.done)).toBe(1);
  expect(runs.done?.status).toBe("completed");
  expect(runs.done?.output?.issue).toEqual({ number: 99, checked: true });
}

describe("step.action with an unknown outcome resumes through the executor with the same key", { timeout: 240_000 }, () => {
  const folders: string[] = [];
  afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("on embedded PGlite", async () => {
    const dir = newEmbeddedDataDir("sluice-runs-unknown-");
    folders.push(dir);
    expectDecisionsApplied(await crashAndDecide({ SLUICE_DATA_DIR: dir }));
  });

  it("on Redis queues + PostgreSQL store", async () => {
    const url = redisUrl(32);
    const redis = new Redis(url);
    await redis.flushdb();
    await redis.quit();
    expectDecisionsApplied(
      await crashAndDecide({
        DATABASE_URL: await freshPostgresDatabase("runs_unknown"),
        REDIS_URL: url,
        QUEUE_BACKEND: "redis",
        VECTOR_SEARCH_ENABLED: "false",
      }),
    );
  });
});
