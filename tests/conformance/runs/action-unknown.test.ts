import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { suiteFakeGithub, type FakeGithub } from "../../fakes/github-server.ts";
import {
  CRASH_TIMING,
  embeddedBackend,
  postgresBackend,
  redisBackend,
  startCrashWorker,
  type WorkerEvent,
} from "../../harness/crash-worker.ts";
import { describeAtOnce, describeCasesAtOnce } from "../../harness/cases-at-once.ts";
import { runbookLine, runRunbookLine } from "../../harness/runbook.ts";
import { fileTempDir } from "../../harness/temp-dirs.ts";

/**
 * A run's `step.action` whose call a SIGKILL cut off: its outcome is unknown, a person decides on
 * the `action.unknown` task, and the run resumes by calling the executor again with the same key,
 * which applies the decision. Three runs, one per decision: "rerun" (GitHub sees a second call and
 * the step completes with its answer), "not-run" (no second call; the step fails ACTION_SKIPPED),
 * "done" (no second call; the step completes with the result the person gave). The fake GitHub
 * counts the calls. And one run whose approved re-run is SIGKILLed too: its second unknown outcome
 * opens a second task (one per attempt), pending, and nothing is called until a person approves it.
 * Redis logical databases 32 and 48 are this file's alone.
 */
const TOKEN = "ghp_runs_unknown";
const WORKSPACE = "ws-unknown";
const TITLES = { rerun: "issue-rerun", "not-run": "issue-not-run", done: "issue-done" } as const;

interface ChildEvent extends WorkerEvent {
  runs?: Record<string, unknown>;
  run?: string;
  tasks?: UnknownTask[];
}

interface UnknownTask {
  id?: string;
  status: string;
  attempt: number;
}

const startChild = (env: Record<string, string>, config: Record<string, unknown>) =>
  startCrashWorker<ChildEvent>("runs-action-crash-worker", {
    ...CRASH_TIMING,
    LOG_LEVEL: "silent",
    ...env,
    RUNS_ACTION_CRASH_CONFIG: JSON.stringify({ workspace: WORKSPACE, ...config }),
  });

const callsFor = (github: FakeGithub, title: string): number =>
  github.requests.filter((r) => r.method === "POST" && (r.json as { title?: string } | null)?.title === title).length;

async function waitForCalls(github: FakeGithub, titles: readonly string[], calls: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (titles.some((t) => callsFor(github, t) < calls)) {
    if (Date.now() > deadline) throw new Error(`${titles.join(", ")} never reached the fake GitHub ${calls} time(s)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface RunOutcome {
  status: string;
  error: { code: string } | null;
  output: { issue: Record<string, unknown> } | null;
  tasks: UnknownTask[];
}

const actionEnv = (github: FakeGithub, backend: Record<string, string>) => ({
  ...backend,
  ACTIONS_ENABLED: "true",
  ALLOW_ACTIONS_DEFAULT: "github.issue.create",
  ACTIONS_GITHUB_BASE_URL: github.url,
  ACTIONS_GITHUB_TOKEN: TOKEN,
});

async function crashAndDecide(github: FakeGithub, backend: Record<string, string>): Promise<Record<string, RunOutcome | undefined>> {
  github.holdWhen(() => true);
  const env = actionEnv(github, backend);
  const first = startChild(env, { start: Object.values(TITLES) });
  const started = (await first.waitForEvent("started")).runs as Record<string, string>;
  await waitForCalls(github, Object.values(TITLES), 1);
  await first.kill();
  github.holdWhen(undefined);

  const decide = Object.fromEntries(Object.entries(TITLES).map(([decision, title]) => [started[title]!, decision]));
  const second = startChild(env, { decide });
  try {
    const settled = (await second.waitForEvent("settled")).runs as Record<string, RunOutcome>;
    return Object.fromEntries(Object.entries(TITLES).map(([decision, title]) => [decision, settled[started[title]!]]));
  } finally {
    await second.kill();
  }
}

function expectDecisionsApplied(github: FakeGithub, runs: Awaited<ReturnType<typeof crashAndDecide>>): void {
  // Re-run: called once more with the same key, and the step completed with GitHub's answer.
  expect(callsFor(github, TITLES.rerun)).toBe(2);
  expect(runs.rerun?.status).toBe("completed");
  expect(runs.rerun?.output?.issue).toMatchObject({ number: expect.any(Number), url: expect.stringContaining("acme/app/issues") });
  // Not run: no second call, the step (and so the run) failed with a code that says why.
  expect(callsFor(github, TITLES["not-run"])).toBe(1);
  expect(runs["not-run"]?.status).toBe("failed");
  expect(runs["not-run"]?.error?.code).toBe("ACTION_SKIPPED");
  // Done: no second call, the step completed with the result the person gave.
  expect(callsFor(github, TITLES.done)).toBe(1);
  expect(runs.done?.status).toBe("completed");
  expect(runs.done?.output?.issue).toEqual({ number: 99, checked: true });
}

/**
 * docs/runbook.md's own `sluice sql "… FROM approval_tasks WHERE run_id = '<run>' …"` line, its
 * output. Only on a database server: the embedded folder belongs to the worker process meanwhile.
 */
async function runbookTasksQuery(runId: string, databaseUrl: string): Promise<string> {
  const line = runbookLine("### An action whose outcome is unknown", "sluice sql ");
  const result = await runRunbookLine(line, { run: runId }, { DATABASE_URL: databaseUrl });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

/**
 * Crash, approve the re-run, crash the re-run too: the second unknown outcome must ask a person
 * again (a new pending task for attempt 2) and call nothing until that task is approved; then
 * exactly one more call completes the step.
 */
async function crashTwiceThenApprove(
  github: FakeGithub,
  backend: Record<string, string>,
): Promise<{ asked: UnknownTask[]; callsWhenAsked: number; run: RunOutcome; shownBySql: string | undefined }> {
  const title = "issue-twice";
  github.holdWhen(() => true);
  const env = actionEnv(github, backend);
  const first = startChild(env, { start: [title] });
  const runId = ((await first.waitForEvent("started")).runs as Record<string, string>)[title]!;
  await waitForCalls(github, [title], 1);
  await first.kill();

  // The person approves a re-run; the re-run's call hangs too, and its worker dies as well.
  const second = startChild(env, { decide: { [runId]: "rerun" } });
  await waitForCalls(github, [title], 2);
  await second.kill();
  github.holdWhen(undefined);

  // Removed after the file (setup-file.ts).
  const gate = join(fileTempDir("sluice-gate-"), "decide");
  const third = startChild(env, { decide: { [runId]: "rerun" }, gate });
  try {
    const asked = (await third.waitForEvent("asked")).tasks!;
    const callsWhenAsked = callsFor(github, title);
    const shownBySql = backend.DATABASE_URL ? await runbookTasksQuery(runId, backend.DATABASE_URL) : undefined;
    writeFileSync(gate, "go");
    const settled = (await third.waitForEvent("settled")).runs as Record<string, RunOutcome>;
    return { asked, callsWhenAsked, run: settled[runId]!, shownBySql };
  } finally {
    await third.kill();
  }
}

function expectAskedAgain(github: FakeGithub, result: Awaited<ReturnType<typeof crashTwiceThenApprove>>): void {
  // Two tasks, one per unknown attempt: the first approved, the second pending, and no call meanwhile.
  expect(result.asked).toEqual([
    { id: expect.any(String), status: "approved", attempt: 1 },
    { id: expect.any(String), status: "pending", attempt: 2 },
  ]);
  expect(result.callsWhenAsked).toBe(2);
  // The runbook's query shows the same: one row per attempt, the second one pending.
  if (result.shownBySql !== undefined) {
    const [first, second] = result.asked;
    expect(result.shownBySql).toMatch(
      new RegExp(
        `^ id +\\| status +\\| attempt\n[-+]+\n ${first?.id} +\\| approved +\\| 1\n ${second?.id} +\\| pending +\\| 2\n\\(2 rows\\)\n$`,
      ),
    );
  }
  // Its approval: exactly one more call, and the step completed with GitHub's answer.
  expect(callsFor(github, "issue-twice")).toBe(3);
  expect(result.run.status).toBe("completed");
  expect(result.run.output?.issue).toMatchObject({ number: expect.any(Number) });
  expect(result.run.tasks.map((t) => t.status)).toEqual(["approved", "approved"]);
}

// Each backend, and the case below, at the same time: each its own database, Redis logical
// database, fake GitHub and worker processes, and most of each is waiting for a lock to expire.
const BACKENDS = [
  { name: "embedded PGlite", backend: async () => embeddedBackend("sluice-runs-unknown-") },
  { name: "PostgreSQL queues and store", backend: () => postgresBackend("runs_unknown_pg") },
  { name: "Redis queues + PostgreSQL store", backend: () => redisBackend("runs_unknown", 32) },
];

describeCasesAtOnce(
  "step.action with an unknown outcome resumes through the executor with the same key",
  BACKENDS,
  (c) => c.name,
  ({ backend }) => {
    const github = suiteFakeGithub(TOKEN);
    it("applies each decision", { timeout: 240_000 }, async () => {
      expectDecisionsApplied(github(), await crashAndDecide(github(), await backend()));
    });
  },
);

// One backend: what is new here (a task per unknown attempt, the runbook's query) is the store's and
// the executor's; the crash and the resume with the same key are the cases above, on every backend.
describeAtOnce("an approved re-run that crashes again asks a person again (one task per attempt)", () => {
  const github = suiteFakeGithub(TOKEN);
  it("on Redis queues + PostgreSQL store", { timeout: 300_000 }, async () => {
    expectAskedAgain(github(), await crashTwiceThenApprove(github(), await redisBackend("runs_twice", 48)));
  });
});
